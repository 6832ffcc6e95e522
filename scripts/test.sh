#!/usr/bin/env bash
# Installs what the test suite needs, lints, then runs the tests. Used by the README and by .ci/run.
#
#   scripts/test.sh                 everything, as CI runs it: `ruff check .`, the whole pytest suite and, alongside
#                                   it, the estimator_lib and tpu tests again on TensorFlow 2.20
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

# The TF 2.20 run goes alongside the main run, in one process: the main run's two workers leave about a
# quarter of the cores idle (tests waiting on the processes, clusters and pipelines they start), which the
# TF 2.20 run fills. Its output is printed once both have ended; either failing fails the command.
tf220_pid=""
tf220_log=""
cleanup() {
  if [ -n "$tf220_pid" ]; then kill "$tf220_pid" 2>/dev/null || true; fi
  if [ -n "$tf220_log" ]; then rm -f "$tf220_log"; fi
}
trap cleanup EXIT
if [ "${ESTIMATOR_LIB_SKIP_TF220:-0}" != "1" ]; then
  venv="${ESTIMATOR_LIB_TF220_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/estimator-lib/venvs/tf220}"
  echo "== TensorFlow 2.20: installing into $venv =="
  if [ ! -x "$venv/bin/python" ]; then
    python -m venv "$venv"
  fi
  # Re-run every time: it pins the versions again and points the editable install at this checkout.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c constraints/tf220.txt -e '.[cpu,test]'
  tf220_log="$(mktemp)"
  # ESTIMATOR_LIB_EXPECT_TF: tests/conftest.py stops the run unless this is the TensorFlow it imports.
  ESTIMATOR_LIB_EXPECT_TF=2.20. "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/estimator_lib tests/tpu \
    >"$tf220_log" 2>&1 &
  tf220_pid=$!
fi
echo "== every test =="
main_status=0
python -m pytest -q ${parallel[@]+"${parallel[@]}"} || main_status=$?
if [ -n "$tf220_pid" ]; then
  tf220_status=0
  wait "$tf220_pid" || tf220_status=$?
  tf220_pid=""
  echo "== TensorFlow 2.20: estimator_lib and tpu tests in $venv (run alongside the above) =="
  cat "$tf220_log"
  if [ "$tf220_status" != "0" ]; then
    echo "The TensorFlow 2.20 run failed (exit $tf220_status)." >&2
    exit "$tf220_status"
  fi
fi
exit "$main_status"
