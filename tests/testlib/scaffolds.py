"""User Scaffolds that leave a variable uninitialised: what the Scaffold's default readiness checks exist for.

estimator_lib skips those checks only when they cannot fail (`_graph._ready_checks_are_redundant`); each
scaffold here must keep them, in whichever mode the test puts it.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from testlib.linear import linear_model_fn

v1 = tf.compat.v1


def linear_model_fn_with_scaffold(scaffold_mode: str, make_scaffold: Callable[[], v1.train.Scaffold]):
    """linear_model_fn whose spec in `scaffold_mode` carries the Scaffold `make_scaffold()` builds in that graph."""

    def model_fn(features, labels, mode, params):  # the Estimator passes these by name
        spec = linear_model_fn(features, labels, mode, params)
        return spec._replace(scaffold=make_scaffold()) if mode == scaffold_mode else spec

    return model_fn


def local_init_op_skipping_a_variable() -> v1.train.Scaffold:
    """Adds the local variable 'left_uninitialised' and a local_init_op that does not initialise it."""
    v1.get_local_variable("left_uninitialised", shape=[], initializer=v1.zeros_initializer())
    return v1.train.Scaffold(local_init_op=tf.no_op())


def saver_of_w_only() -> v1.train.Scaffold:
    """A saver over linear_model_fn's 'w' alone: a restore by it leaves 'b' uninitialised."""
    weights = [v for v in v1.global_variables() if v.op.name == "w"]
    return v1.train.Scaffold(saver=v1.train.Saver(weights))
