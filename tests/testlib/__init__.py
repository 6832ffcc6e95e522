"""Helpers shared by every test folder: tiny real models, event-file and checkpoint readers, recording hooks
and what the tests that start processes need.

Import it as `testlib` (`from testlib.linear import make_estimator`). pytest puts `tests/` on `sys.path`
(pyproject.toml sets `pythonpath = ["tests"]`), and a test that starts a Python process gives it the same
path with `testlib.processes.python_env()`, so neither needs to edit `sys.path` to reach it.
The folder-specific modules `tests/estimator_lib/est_testlib.py` and `tests/tpu/tpu_testlib.py` re-export
these names for the tests written against them.
"""
