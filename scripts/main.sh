#!/usr/bin/env bash
# Installs the package, then runs the main job: the whole training pipeline on kfp's local runner.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -e '.[cpu,pipelines]'
exec estimator-pipelines run-local "$@"
