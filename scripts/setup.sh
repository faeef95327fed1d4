#!/usr/bin/env bash
# Creates .venv and installs the project with the given extras, pinned by constraints.txt.
# Usage: scripts/setup.sh bot,worker,cpu[,test]
# Skipped when these extras were installed from the same pyproject.toml and
# constraints.txt (a stamp in .venv): a restart then needs no network. Delete
# .venv/.installed-* to install again.
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-bot,worker,cpu}
python=${PYTHON:-python3}
stamp=".venv/.installed-$extras"
wanted=$(cat pyproject.toml constraints.txt | "$python" -c \
  'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  echo "Dependencies for $extras: already installed in .venv."
  exit 0
fi
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $("$python" --version)"
  "$python" -m venv .venv
fi
# pip's own lines show the progress; its animated bar only on a terminal (in a log file
# or journald it would be carriage returns).
pip_args=()
[ -t 1 ] || pip_args+=(--progress-bar off)
echo "Installing dependencies for $extras into .venv"
.venv/bin/python -m pip install "${pip_args[@]}" --upgrade pip
.venv/bin/python -m pip install "${pip_args[@]}" -c constraints.txt -e ".[$extras]"
echo "$wanted" > "$stamp"
