#!/usr/bin/env bash
# Runs the bot and one worker on this host, on the embedded SQLite store:
#   1. checks the settings with the system Python alone, before installing anything;
#   2. installs the pinned dependencies into .venv (the bot's first, then, once every
#      setting is read as the processes will read it, TensorFlow), skipped when done;
#   3. starts the worker and the bot, and stops both when either stops.
# Settings come from the environment or .env (DISCORD_TOKEN at least; see README).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null 2>&1; then
  echo "imagine-bot needs Python 3.11 or newer, and there is no $python here." >&2
  exit 1
fi
# tf=gpu or tf=cpu, and without a GPU the CPU defaults the admin left unset (exported).
plan=$("$python" scripts/preflight.py)
eval "$plan"
bash scripts/setup.sh bot
.venv/bin/python scripts/preflight.py --full
bash scripts/setup.sh "bot,worker,$tf"

echo "Starting the worker and the bot (Ctrl+C stops both)"
.venv/bin/python -m worker &
worker=$!
.venv/bin/python -m bot &
bot=$!
stop() {
  kill -TERM "$worker" "$bot" 2>/dev/null || true
  wait "$worker" "$bot" 2>/dev/null || true
}
# Background processes of a script ignore Ctrl+C's SIGINT: pass it on as SIGTERM.
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
# When either stops (the worker on a failed download, the bot on a refused token), the
# other is stopped too, and run.sh exits with the first one's status.
status=0
wait -n || status=$?
stop
exit "$status"
