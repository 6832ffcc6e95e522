"""The three modes a `model_fn` is called in."""


class ModeKeys:
    """Standard names for model modes, with the same string values as `tf.estimator.ModeKeys`.

    Keeping the original values matters: users compare `mode` with literals and SavedModels record them.
    """

    TRAIN = "train"
    EVAL = "eval"
    PREDICT = "infer"

    ALL = (TRAIN, EVAL, PREDICT)


def check_mode(mode: str) -> str:
    """Returns `mode` if it is one of the ModeKeys, else raises a ValueError naming the valid values."""
    if mode not in ModeKeys.ALL:
        raise ValueError(
            f"mode must be one of ModeKeys.TRAIN ({ModeKeys.TRAIN!r}), ModeKeys.EVAL ({ModeKeys.EVAL!r}) "
            f"or ModeKeys.PREDICT ({ModeKeys.PREDICT!r}); received mode={mode!r}."
        )
    return mode
