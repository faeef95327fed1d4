#!/usr/bin/env bash
# Sets up .venv with everything the tests need, then runs the linters and the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh bot,worker,cpu,test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
