#!/usr/bin/env sh
# Builds and pushes the CPU, GPU and TPU images with Cloud Build, tagged with the package version.
# usage: containers/build_images.sh us-docker.pkg.dev/PROJECT/estimator-lib
# TPU_RUN_AS=root builds the TPU image to run as root (when tpu-smoke finds the TPU device nodes closed to its user).
# then: estimator-pipelines compile --image REPO/estimator-lib:VERSION --gpu-image REPO/estimator-lib-gpu:VERSION \
#         --tpu-image REPO/estimator-lib-tpu:VERSION ...
set -eu
REPOSITORY=${1:?usage: containers/build_images.sh us-docker.pkg.dev/PROJECT/estimator-lib}
cd "$(dirname "$0")/.."
VERSION=$(PYTHONPATH=. python -c "from estimator_kfp.components.images import VERSION; print(VERSION)")
gcloud builds submit --config containers/cloudbuild.yaml \
  --substitutions "_REPOSITORY=${REPOSITORY},_VERSION=${VERSION},_TPU_RUN_AS=${TPU_RUN_AS:-estimator}" .
