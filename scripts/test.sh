#!/usr/bin/env bash
# Installs what the test suite needs, then runs it. Used by the README and by .ci/run.
# Without arguments it then runs the estimator_lib and tpu tests again on TensorFlow 2.20 (the TPU image's
# version) in their own virtual environment, created on first use with constraints/tf220.txt. It lives
# outside the checkout (ESTIMATOR_LIB_TF220_VENV, default ~/.cache/estimator-lib/venvs/tf220) so that a
# fresh clone, as CI makes, does not download TensorFlow again. Arguments go to the main pytest run only;
# ESTIMATOR_LIB_SKIP_TF220=1 skips the TF 2.20 run.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -e '.[all]'
python -m pytest -q "$@"
if [ "$#" -gt 0 ] || [ "${ESTIMATOR_LIB_SKIP_TF220:-0}" = "1" ]; then
  exit 0
fi
venv="${ESTIMATOR_LIB_TF220_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/estimator-lib/venvs/tf220}"
echo "== TensorFlow 2.20: estimator_lib and tpu tests in $venv =="
if [ ! -x "$venv/bin/python" ]; then
  python -m venv "$venv"
fi
# Re-run every time: it pins the versions again and points the editable install at this checkout.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c constraints/tf220.txt -e '.[cpu,test]'
"$venv/bin/python" -c 'import tensorflow as tf, google.protobuf as pb; assert tf.__version__.startswith("2.20."), tf.__version__; print("TensorFlow", tf.__version__, "protobuf", pb.__version__)'
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/estimator_lib tests/tpu
