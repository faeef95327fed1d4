#!/usr/bin/env bash
# Re-pins constraints.txt from a fresh environment with every extra installed.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q --upgrade pip
"$tmp/venv/bin/pip" install -q -e '.[bot,worker,cpu,test]'
{
  echo "# Every dependency pinned: used by scripts/, CI and the container images."
  echo "# Regenerate with scripts/lock.sh after changing pyproject.toml."
  "$tmp/venv/bin/pip" freeze --exclude-editable
} > constraints.txt
rm -rf "$tmp"
