"""Benchmarks: estimator_lib against a hand-written tf.function loop, Keras fit and tf.estimator 2.15.

Run ``python -m bench --help``. Nothing in this package imports TensorFlow at import time, so the
same package runs in the TF 2.21 interpreter and in the TF 2.15 virtual environment.
"""
