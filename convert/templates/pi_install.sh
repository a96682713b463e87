#!/bin/sh
# Install the edgelite runtime for $model_file into a virtual environment (default ~/edgelite-env).
# Runtime: $runtime. Offline when wheels/ holds the device wheels (bundle exported with --with-wheels).
#   sh install.sh [VENV]
set -eu
HERE=$$(cd "$$(dirname "$$0")" && pwd)
VENV=$${1:-$$HOME/edgelite-env}
python3 -m venv "$$VENV"
OFFLINE=""
if ls "$$HERE"/wheels/numpy-*.whl >/dev/null 2>&1; then OFFLINE="--no-index"; fi
"$$VENV/bin/pip" install $$OFFLINE --find-links "$$HERE/wheels" $pip_requirements
"$$VENV/bin/edgelite" --version
echo "ready: $$VENV/bin/edgelite predict $$HERE/$model_file FILE..."
