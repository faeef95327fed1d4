#!/usr/bin/env bash
# Sets up .venv, then runs one worker and the bot on the embedded SQLite store.
# Settings come from the environment or .env (DISCORD_TOKEN at least; see README).
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v nvidia-smi >/dev/null 2>&1; then tf=gpu; else tf=cpu; fi
bash scripts/setup.sh "bot,worker,$tf"
.venv/bin/python -m worker &
worker=$!
trap 'kill -TERM $worker 2>/dev/null; wait $worker' EXIT
.venv/bin/python -m bot
