#!/usr/bin/env bash
# Installs what the test suite needs, then runs it. Used by the README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -e '.[all]'
exec python -m pytest -q "$@"
