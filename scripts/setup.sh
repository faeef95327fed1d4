#!/usr/bin/env bash
# Creates .venv and installs the project with the given extras, pinned by constraints.txt.
# Usage: scripts/setup.sh bot,worker,cpu[,test]
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-bot,worker,cpu}
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e ".[$extras]"
