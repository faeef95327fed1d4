#!/usr/bin/env bash
# Re-pins constraints.txt from a fresh environment with every extra installed, then adds
# the GPU image's TensorFlow and CUDA wheels, resolved against those pins but not
# installed (they are gigabytes, and CI tests with tensorflow-cpu).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
python3 -m venv "$tmp/venv"
# setuptools and wheel are runtime dependencies too (of TensorFlow and astunparse).
"$tmp/venv/bin/pip" install -q --upgrade pip setuptools wheel
"$tmp/venv/bin/pip" install -q -e '.[bot,worker,cpu,test]'
"$tmp/venv/bin/pip" freeze --all --exclude pip --exclude-editable > "$tmp/pins.txt"
"$tmp/venv/bin/pip" install -q --dry-run --ignore-installed -c "$tmp/pins.txt" \
  --report "$tmp/gpu.json" '.[gpu]'
{
  echo "# Every dependency pinned: used by scripts/, CI and the container images."
  echo "# Regenerate with scripts/lock.sh after changing pyproject.toml."
  cat "$tmp/pins.txt"
  echo "# Only in the GPU worker image (the \`gpu\` extra): TensorFlow with its CUDA wheels."
  "$tmp/venv/bin/python" - "$tmp/pins.txt" "$tmp/gpu.json" <<'EOF'
import json
import re
import sys

def key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()

pinned = {key(line.split("==")[0]) for line in open(sys.argv[1])}
pinned |= {"pip", "imagine-bot"}  # as the freeze above leaves them out
report = json.load(open(sys.argv[2]))
for name, version in sorted(
    (item["metadata"]["name"], item["metadata"]["version"]) for item in report["install"]
):
    if key(name) not in pinned:
        print(f"{name}=={version}")
EOF
} > constraints.txt
rm -rf "$tmp"
