"""validation: one rule for the exception type (wrong type -> TypeError, wrong value -> ValueError) and
messages that name the argument, the value, the rule and the fix."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from estimator_lib import RunConfig, validation
from estimator_lib.training.specs import TrainSpec


@pytest.mark.parametrize("value", [True, False, 1.0, "3", None, [1]])
def test_wrong_types_are_type_errors_and_value_errors(value):
    with pytest.raises(TypeError, match=r"^steps must be a positive integer; received steps=.* of type \w+\.$"):
        validation.check_int("steps", value)
    with pytest.raises(ValueError):  # as tf.estimator raised for many wrong types
        validation.check_int("steps", value)


@pytest.mark.parametrize("value, minimum", [(0, 1), (-1, 0), (2, 3)])
def test_out_of_range_values_are_value_errors_only(value, minimum):
    with pytest.raises(ValueError, match=rf"received steps={value}\.") as raised:
        validation.check_int("steps", value, minimum=minimum)
    assert not isinstance(raised.value, TypeError)


def test_integers_of_every_kind_pass_and_none_only_when_allowed():
    assert validation.check_int("n", np.int64(4)) == 4
    assert validation.check_int("n", 0, minimum=0) == 0
    assert validation.check_int("n", None, allow_none=True) is None
    assert validation.is_int(np.int32(1)) and not validation.is_int(True) and not validation.is_int(np.float32(1))
    assert validation.is_number(2.5) and validation.is_number(np.float32(1)) and not validation.is_number(False)


def test_messages_carry_rule_and_fix():
    with pytest.raises(ValueError, match=r"^TPUConfig num_shards must be a positive integer \(cores\) or None; "
                                         r"received num_shards=0\. Use 8 for a v3-8\.$"):
        validation.check_int("TPUConfig num_shards", 0, rule="cores", allow_none=True, fix="Use 8 for a v3-8.")
    with pytest.raises(ValueError, match=r"^t must be a positive number of seconds; received t=0\.$"):
        validation.check_number("t", 0, exclusive=True, unit="seconds")
    with pytest.raises(TypeError, match=r"^flag must be True or False \(on or off\); received flag=1 of type int\.$"):
        validation.check_bool("flag", 1, meaning="on or off")


def test_check_batch_major_names_the_scalar():
    with tf.Graph().as_default():
        good, scalar = tf.zeros([2, 3]), tf.constant(1.0, name="the_scalar")
        validation.check_batch_major([good], "host_call tensors")
        with pytest.raises(ValueError, match=r"host_call tensors are concatenated .* rank >= 1; the_scalar:0 is a"):
            validation.check_batch_major({"a": good, "b": scalar}, "host_call tensors")


def test_the_same_mistake_raises_the_same_type_in_different_places():
    """A float step count: RunConfig once raised ValueError and TrainSpec TypeError; now both raise the
    same WrongTypeError (a TypeError that is also a ValueError)."""
    errors = []
    for make in (lambda: RunConfig(save_checkpoints_steps=2.5), lambda: TrainSpec(lambda: None, max_steps=2.5)):
        with pytest.raises(validation.WrongTypeError) as raised:
            make()
        errors.append(raised.value)
    assert all(isinstance(error, TypeError) and isinstance(error, ValueError) for error in errors)


def test_a_range_with_an_upper_bound():
    assert validation.check_int("replica_id", 1, minimum=0, below=2) == 1
    with pytest.raises(ValueError, match=r"^replica_id must be an integer in \[0, 2\) \(num_replicas=2\); received "
                                         r"replica_id=2\.$"):
        validation.check_int("replica_id", 2, minimum=0, below=2, rule="num_replicas=2")
