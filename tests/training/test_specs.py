"""TrainSpec / EvalSpec validation: each bad value fails at construction with a message that helps."""

import pytest
import tensorflow as tf
from testlib import linear

from estimator_lib.exporters import BestExporter, FinalExporter, LatestExporter
from estimator_lib.training import EvalSpec, TrainSpec
from estimator_lib.training.specs import check_eval_specs

fn = linear.train_input_fn()
receiver = linear.serving_input_receiver_fn


def test_defaults_and_normalisation():
    hook = tf.compat.v1.train.StopAtStepHook(last_step=3)
    spec = TrainSpec(fn, max_steps=5, hooks=[hook])
    assert spec.hooks == (hook,) and spec.saving_listeners == () and spec.max_steps == 5
    eval_spec = EvalSpec(fn, exporters=LatestExporter("a", receiver))
    assert eval_spec.steps == 100 and eval_spec.throttle_secs == 600 and eval_spec.start_delay_secs == 120
    assert len(eval_spec.exporters) == 1


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"input_fn": fn()}, TypeError, "input_fn must be a callable.*not my_input_fn\\(\\)"),
        ({"input_fn": fn, "max_steps": 0}, ValueError,
         "max_steps must be a positive integer or None; received max_steps=0. Use None to run until the input"),
        ({"input_fn": fn, "max_steps": 2.5}, TypeError, "received max_steps=2.5"),
        ({"input_fn": fn, "hooks": [object()]}, TypeError, "hooks must contain only tf.compat.v1.train.SessionRunHook"),
        ({"input_fn": fn, "saving_listeners": "x"}, TypeError, "saving_listeners must be a list"),
    ],
)
def test_train_spec_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        TrainSpec(**kwargs)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"steps": -1}, ValueError, "EvalSpec.steps must be a positive integer or None; received steps=-1"),
        ({"name": 3}, TypeError, "EvalSpec.name must be a non-empty str"),
        ({"name": "a/b"}, ValueError, "cannot contain a path separator"),
        ({"throttle_secs": -5}, ValueError,
         "throttle_secs must be a non-negative number of seconds; received throttle_secs=-5"),
        ({"start_delay_secs": "1"}, TypeError, "start_delay_secs must be a non-negative number of seconds"),
        ({"exporters": [object()]}, TypeError, "exporters must contain only Exporter"),
        (
            {"exporters": [LatestExporter("same", receiver), FinalExporter("same", receiver)]},
            ValueError,
            "unique names.*'same' appears more than once",
        ),
        (
            {"name": "holdout", "exporters": [BestExporter("best", receiver)]},
            ValueError,
            "event_file_pattern='eval_holdout/\\*.tfevents.\\*'",
        ),
    ],
)
def test_eval_spec_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        EvalSpec(fn, **kwargs)


def test_several_eval_specs_need_distinct_names_and_exporter_dirs():
    with pytest.raises(ValueError, match="distinct names.*\\['a'\\]"):
        check_eval_specs([EvalSpec(fn, name="a"), EvalSpec(fn, name="a")])
    with pytest.raises(ValueError, match="same export/<name> directory.*\\['x'\\]"):
        check_eval_specs(
            [
                EvalSpec(fn, name="a", exporters=LatestExporter("x", receiver)),
                EvalSpec(fn, name="b", exporters=LatestExporter("x", receiver)),
            ]
        )
    with pytest.raises(TypeError, match="eval_spec must be an EvalSpec or a non-empty list"):
        check_eval_specs([])


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: LatestExporter("", receiver), ValueError, "non-empty str; received name=''"),
        (lambda: LatestExporter("a/b", receiver), ValueError, "cannot contain a path separator"),
        (lambda: LatestExporter("a", None), TypeError, "serving_input_receiver_fn must be a callable"),
        (lambda: LatestExporter("a", receiver, exports_to_keep=0), ValueError,
         "exports_to_keep must be a positive integer or None; received exports_to_keep=0. None keeps every export."),
        (lambda: LatestExporter("a", receiver, assets_extra={"a": 1}), TypeError, "assets_extra must be a dict"),
        (lambda: LatestExporter("a", receiver, as_text="yes"), TypeError, "as_text must be a bool"),
        (lambda: BestExporter("a", receiver, compare_fn=3), TypeError, "compare_fn must be a callable"),
        (lambda: BestExporter("a", receiver, event_file_pattern="/abs/eval/*"), ValueError,
         "relative to the model directory"),
    ],
)
def test_exporter_argument_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()
