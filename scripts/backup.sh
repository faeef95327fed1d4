#!/usr/bin/env bash
# Backs up the bot's ledger and the job store of the running `docker compose` stack into
# backups/<date-time>/, while the bot and the workers keep running (SQLite's online
# backup: see docs/self-hosting.md, "Back up and restore").
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=$(date +%Y%m%d-%H%M%S)
inside=/data/backups/$stamp
docker compose exec -T bot python -m core.backup "$inside" /data/bot.db /data/imagine.db
mkdir -p backups
docker compose cp "bot:$inside" "backups/$stamp"
docker compose exec -T bot rm -r "$inside"
echo "Backed up into backups/$stamp"
