"""Building the estimator and the input functions a component step needs, from resolved model functions.

Each component step runs one mode, so the step's data path and batch size are handed to the user's
`input_fn(mode, params)` through `params['data_path']` and `params['batch_size']`.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Callable
from typing import Any

from ._model_ref import ModelFunctions

_INPUT_FN_RETURNS = (
    "input_fn must return a tf.data.Dataset of (features, labels) or of features, a (features, labels) tuple, "
    "or features (a dict or a Tensor)"
)


@dataclasses.dataclass(frozen=True)
class EstimatorOptions:
    """How to build the estimator: TPUEstimator when `use_tpu`, else Estimator; 0 means 'not set'."""

    use_tpu: bool = False
    train_batch_size: int = 0
    eval_batch_size: int = 0
    predict_batch_size: int = 0
    save_checkpoints_steps: int = 0
    save_checkpoints_secs: int = 0  # used when save_checkpoints_steps is 0; 0: RunConfig's default
    log_step_count_steps: int = 50
    tf_random_seed: int = -1
    iterations_per_loop: int = 0
    # 'local' is the TPU attached to this VM (Vertex TPU VMs); a TPU name or grpc:// address also works.
    tpu_master: str = "local"

    def __post_init__(self) -> None:
        for field in ("train_batch_size", "eval_batch_size", "predict_batch_size", "save_checkpoints_steps",
                      "save_checkpoints_secs", "iterations_per_loop"):
            check_int(getattr(self, field), field, minimum=0)
        check_int(self.log_step_count_steps, "log_step_count_steps", minimum=1)
        check_int(self.tf_random_seed, "tf_random_seed", minimum=-1)
        if not isinstance(self.use_tpu, bool):
            raise TypeError(f"use_tpu must be True or False; received use_tpu={self.use_tpu!r}.")
        if self.use_tpu and not self.train_batch_size and not self.eval_batch_size and not self.predict_batch_size:
            raise ValueError(
                "use_tpu=True needs the global batch size of the step (train_batch_size, eval_batch_size or "
                "predict_batch_size > 0): TPUEstimator splits it across the TPU cores and sets params['batch_size']."
            )


def check_int(value: Any, name: str, *, minimum: int) -> int:
    """Returns value when it is an int >= minimum, else raises naming the argument and the value."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer; received {name}={value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; received {name}={value!r}.")
    return value


def configure_logging() -> None:
    """Sends INFO logs (the estimator's step/loss lines) to stdout, which the pipeline runner streams."""
    import tensorflow as tf

    root = logging.getLogger()
    if not root.handlers:  # the KFP executor installs one already; a second would print every line twice
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    tf.get_logger().setLevel(logging.INFO)
    logging.getLogger("estimator_lib").setLevel(logging.INFO)


def step_params(
    params: dict[str, Any], *, batch_size: int, data_path: str, options: EstimatorOptions
) -> dict[str, Any]:
    """The params one step's estimator gets: the user's, plus this step's batch size and data path."""
    merged = dict(params)
    if data_path:
        from ._uris import check_uri

        check_uri(data_path, "data path", allow_glob=True)
        merged["data_path"] = data_path
    if batch_size and not options.use_tpu:
        # TPUEstimator sets params['batch_size'] itself (per shard); Estimator takes it from params.
        merged["batch_size"] = batch_size
    return merged


def build_estimator(
    functions: ModelFunctions,
    model_dir: str,
    params: dict[str, Any],
    options: EstimatorOptions,
    *,
    warm_start_from: str | None = None,
    train_distribute: Any = None,
) -> Any:
    """An Estimator (or a TPUEstimator when options.use_tpu) over the user's model_fn.

    train_distribute: a strategy to train with (the multi-worker one of a multi-node job), else none.
    """
    config_kwargs: dict[str, Any] = {"log_step_count_steps": options.log_step_count_steps}
    if options.save_checkpoints_steps:
        config_kwargs["save_checkpoints_steps"] = options.save_checkpoints_steps
    elif options.save_checkpoints_secs:
        config_kwargs["save_checkpoints_secs"] = options.save_checkpoints_secs
    if options.tf_random_seed >= 0:
        config_kwargs["tf_random_seed"] = options.tf_random_seed
    if options.use_tpu:
        if train_distribute is not None:
            raise ValueError(
                "use_tpu=True trains on one TPU VM's cores; it cannot also train across a multi-node cluster "
                "(TF_CONFIG names several training tasks). Run TPU training as a job of one replica."
            )
        return _build_tpu_estimator(functions, model_dir, params, options, config_kwargs, warm_start_from)
    if train_distribute is not None:
        config_kwargs["train_distribute"] = train_distribute
    from estimator_lib.estimator import Estimator
    from estimator_lib.run_config import RunConfig

    return Estimator(
        model_fn=functions.model_fn,
        model_dir=model_dir,
        config=RunConfig(**config_kwargs),
        params=params,
        warm_start_from=warm_start_from,
    )


def _build_tpu_estimator(functions, model_dir, params, options, config_kwargs, warm_start_from):
    try:
        from estimator_lib import tpu
    except ImportError as error:
        raise ValueError(
            f"use_tpu=True needs estimator_lib.tpu, which cannot be imported here ({error}). Run with "
            f"use_tpu=False, or use the TPU image built from containers/Dockerfile.tpu."
        ) from error
    tpu_config_kwargs = {}
    if options.iterations_per_loop:
        tpu_config_kwargs["iterations_per_loop"] = options.iterations_per_loop
    config = tpu.RunConfig(
        tpu_config=tpu.TPUConfig(**tpu_config_kwargs), master=options.tpu_master or None, **config_kwargs
    )
    batch_sizes = {
        name: getattr(options, name) or None
        for name in ("train_batch_size", "eval_batch_size", "predict_batch_size")
    }
    if batch_sizes["train_batch_size"] is None:
        # TPUEstimator insists on a training batch size even in a step that never trains (evaluate,
        # predict, export); that step's own size stands in for it and is never used to train.
        batch_sizes["train_batch_size"] = batch_sizes["eval_batch_size"] or batch_sizes["predict_batch_size"]
    return tpu.TPUEstimator(
        model_fn=functions.model_fn,
        model_dir=model_dir,
        config=config,
        params=params,
        use_tpu=True,
        warm_start_from=warm_start_from,
        **batch_sizes,
    )


def call_input_fn(functions: ModelFunctions, mode: str, params: dict[str, Any]) -> Any:
    """Calls the user's input_fn with the arguments it declares among (mode, params)."""
    from estimator_lib.fn_args import call_with_declared_args

    return call_with_declared_args(functions.input_fn, {"mode": mode, "params": params}, role="input_fn")


def make_input_fn(
    functions: ModelFunctions, mode: str, *, features_only: bool = False, take_batches: int = 0
) -> Callable[[dict[str, Any]], Any]:
    """An input_fn(params) for the estimator that calls the user's input_fn in `mode`.

    features_only drops labels (to predict over evaluation data); take_batches > 0 keeps that many batches.
    """

    def input_fn(params: dict[str, Any]) -> Any:
        result = call_input_fn(functions, mode, dict(params))
        return limit_input(result, features_only=features_only, take_batches=take_batches)

    return input_fn


def limit_input(result: Any, *, features_only: bool, take_batches: int) -> Any:
    """Applies features_only / take_batches to what an input_fn returned."""
    import tensorflow as tf

    if isinstance(result, tf.data.Dataset):
        if take_batches:
            result = result.take(take_batches)
        if features_only and isinstance(result.element_spec, tuple) and len(result.element_spec) == 2:
            result = result.map(lambda features, labels: features)
        return result
    if isinstance(result, tuple) and len(result) == 2:
        return result[0] if features_only else result
    if isinstance(result, (dict, tf.Tensor)):
        return result
    raise TypeError(f"{_INPUT_FN_RETURNS}; it returned a {type(result).__name__}.")


def checkpoint_global_step(checkpoint_path: str) -> int:
    """Reads `global_step` from a checkpoint (0 when the checkpoint has none)."""
    import tensorflow as tf

    try:
        return int(tf.train.load_variable(checkpoint_path, "global_step"))
    except (tf.errors.NotFoundError, ValueError):
        return 0


def require_checkpoint(model_dir: str, role: str) -> str:
    """The newest whole checkpoint in model_dir, or a ValueError telling the user what to connect."""
    from estimator_lib.checkpoints import latest_checkpoint

    checkpoint = latest_checkpoint(model_dir)
    if checkpoint is None:
        raise ValueError(
            f"{role}={model_dir!r} holds no complete checkpoint (no '<prefix>.index' with all its data files). "
            f"Connect the `model` output of the train component, or an importer pointing at a model_dir "
            f"written by Estimator.train."
        )
    return checkpoint


def scratch_dir(prefix: str) -> str:
    """A fresh local directory for what an estimator writes besides checkpoints, removed at exit."""
    import atexit
    import shutil
    import tempfile

    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path
