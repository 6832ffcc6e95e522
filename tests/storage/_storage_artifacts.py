"""Tiny real TensorFlow artifacts for the storage tests (importable by name; conftest modules are not)."""

from __future__ import annotations

import os

import tensorflow as tf


def write_v1_checkpoints(model_dir: str, steps=(1, 2, 3), max_to_keep: int = 5) -> list[str]:
    """Saves a tiny graph-mode model at each of `steps` with tf.compat.v1.train.Saver; returns the prefixes."""
    prefixes = []
    graph = tf.Graph()
    with graph.as_default():
        weights = tf.compat.v1.get_variable("dense/kernel", shape=[64, 32],
                                            initializer=tf.compat.v1.random_normal_initializer(seed=1))
        global_step = tf.compat.v1.train.get_or_create_global_step()
        bump = tf.compat.v1.assign_add(weights, tf.ones_like(weights))
        saver = tf.compat.v1.train.Saver(max_to_keep=max_to_keep)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            for step in steps:
                session.run([bump, tf.compat.v1.assign(global_step, step)])
                prefixes.append(saver.save(session, os.path.join(model_dir, "model.ckpt"), global_step=step))
    return prefixes


def write_saved_model(export_dir: str) -> str:
    """A tiny tf.Module with a serving signature, saved with tf.saved_model.save."""

    class Scale(tf.Module):
        def __init__(self):
            super().__init__()
            self.factor = tf.Variable(3.0)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, x):
            return {"y": x * self.factor}

    module = Scale()
    tf.saved_model.save(module, export_dir, signatures=module.__call__)
    return export_dir
