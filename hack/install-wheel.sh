#!/bin/sh
# Builds the hpo-operator wheel from a source tree and installs it, with its runtime dependencies
# pinned by requirements/lock.txt, into a fresh venv. The Dockerfile runs exactly this script, and
# tests/ship/test_image_steps.py runs it too, so the image's install steps are tested without Docker.
#
#   hack/install-wheel.sh SOURCE_DIR VENV_DIR
#
# The lock holds the dev extras as well; `-c` only constrains, so only runtime deps are installed.
# Bytecode is compiled at install time so nothing writes into site-packages at run time.
set -eu

src=$(cd "$1" && pwd)
venv=$2
python=${PYTHON:-python3}
wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT

"$python" -m pip wheel --no-cache-dir --disable-pip-version-check --no-deps --wheel-dir "$wheels" "$src"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --no-cache-dir --disable-pip-version-check --compile \
  -c "$src/requirements/lock.txt" "$wheels"/*.whl
"$venv/bin/hpo-operator" --version
