#!/usr/bin/env sh
# Regenerates the image lock files containers/locks/{cpu,gpu,tpu}.txt: every package each image installs,
# pinned with its sha256 hashes, resolved for the images' platform (CPython 3.11, x86_64, glibc 2.36 of the
# Debian bookworm base). Each lock holds the image's TensorFlow extra, the `pipelines` extra, the project's
# own dependencies and its build requirements (containers/locks/build.in). The Dockerfiles install them with
# `pip install --require-hashes`; tests/pipelines/test_pipeline_image_locks.py checks they agree with
# pyproject.toml. Run after changing a dependency range:  sh containers/lock_images.sh   (needs uv: pip install uv)
set -eu
cd "$(dirname "$0")/.."
command -v uv > /dev/null || { echo "containers/lock_images.sh needs uv: pip install uv" >&2; exit 1; }
for image in cpu gpu tpu; do
  lock="containers/locks/${image}.txt"
  {
    echo "# The ${image} image's lock, written by containers/lock_images.sh (do not edit by hand)."
    echo "# extras: ${image},pipelines"
    echo "# platform: python 3.11, x86_64-manylinux_2_36"
    uv pip compile pyproject.toml containers/locks/build.in --extra "${image}" --extra pipelines \
      --python-version 3.11 --python-platform x86_64-manylinux_2_36 --generate-hashes --no-header --quiet
  } > "${lock}.tmp"
  mv "${lock}.tmp" "${lock}"
  echo "wrote ${lock}: $(grep -c '==' "${lock}") packages"
done
