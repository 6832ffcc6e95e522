#!/usr/bin/env bash
# Installs what the test suite needs, lints, then runs the tests. Used by the README and by .ci/run.
#
#   scripts/test.sh                 everything, as CI runs it: `ruff check .`, the whole pytest suite, then the
#                                   estimator_lib and tpu tests again on TensorFlow 2.20
#   scripts/test.sh --fast [ARGS]   local work: `ruff check .`, then pytest -m "not slow" [ARGS] (the tests
#                                   marked slow, the TF 2.20 run and nothing else are left out)
#   scripts/test.sh ARGS            `ruff check .`, then pytest ARGS only (e.g. one file or -k NAME), in one process
#
# The whole suite and --fast run on ESTIMATOR_LIB_TEST_WORKERS pytest-xdist workers (default 2, the CI machine's
# cores; 1 runs in one process), one test file per worker at a time (--dist loadfile: a file's module fixtures,
# such as a kfp.local run several tests read, are built once); tests/conftest.py starts the slow tests first.
#
# A ruff finding fails the command before any test runs (the rules are in pyproject.toml, [tool.ruff]).
# The TF 2.20 run uses its own virtual environment, created on first use with constraints/tf220.txt. It lives
# outside the checkout (ESTIMATOR_LIB_TF220_VENV, default ~/.cache/estimator-lib/venvs/tf220) so that a
# fresh clone, as CI makes, does not download TensorFlow again. ESTIMATOR_LIB_SKIP_TF220=1 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
fast=0
if [ "${1:-}" = "--fast" ]; then
  fast=1
  shift
fi
python -m pip install --quiet --disable-pip-version-check -e '.[all]'
echo "== ruff check . =="
python -m ruff check .
workers="${ESTIMATOR_LIB_TEST_WORKERS:-2}"
parallel=()
if [ "$workers" != "1" ]; then
  parallel=(-n "$workers" --dist loadfile)
fi
if [ "$fast" = "1" ]; then
  exec python -m pytest -q ${parallel[@]+"${parallel[@]}"} -m "not slow" "$@"
fi
if [ "$#" -gt 0 ]; then
  exec python -m pytest -q "$@"
fi
python -m pytest -q ${parallel[@]+"${parallel[@]}"}
if [ "${ESTIMATOR_LIB_SKIP_TF220:-0}" = "1" ]; then
  exit 0
fi
venv="${ESTIMATOR_LIB_TF220_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/estimator-lib/venvs/tf220}"
echo "== TensorFlow 2.20: estimator_lib and tpu tests in $venv =="
if [ ! -x "$venv/bin/python" ]; then
  python -m venv "$venv"
fi
# Re-run every time: it pins the versions again and points the editable install at this checkout.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c constraints/tf220.txt -e '.[cpu,test]'
# ESTIMATOR_LIB_EXPECT_TF: tests/conftest.py stops the run unless this is the TensorFlow it imports.
ESTIMATOR_LIB_EXPECT_TF=2.20. exec "$venv/bin/python" -m pytest -q -p no:cacheprovider ${parallel[@]+"${parallel[@]}"} tests/estimator_lib tests/tpu
