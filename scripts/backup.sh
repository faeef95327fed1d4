#!/usr/bin/env bash
# Backs up the bot's ledger and the job store of the running `docker compose` stack into
# backups/<date-time>/, while the bot and the workers keep running (SQLite's online
# backup: see docs/self-hosting.md, "Back up and restore"). Each copy is checked
# (PRAGMA integrity_check) in the container, and its bytes again (SHA256SUMS) once on
# this host. A backup that fails leaves nothing behind, here or in the container.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=$(date +%Y%m%d-%H%M%S)
inside=/data/backups/$stamp
partial=backups/.$stamp.partial

cleanup() {
  local status=$?
  rm -rf "$partial"
  docker compose exec -T bot rm -rf "$inside" "$inside.partial" >/dev/null 2>&1 || true
  if [ "$status" -ne 0 ]; then
    echo "The backup failed; nothing was kept in backups/." >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM # the EXIT trap cleans up after Ctrl-C and kill too

verify() {
  if command -v sha256sum >/dev/null; then
    sha256sum --check --quiet SHA256SUMS
  else # macOS
    shasum -a 256 --check --quiet SHA256SUMS
  fi
}

# The job store first, then the ledger: in that order the two copies agree (why, and what
# a restore may see: core/backup.py).
docker compose exec -T bot python -m core.backup "$inside" /data/imagine.db /data/bot.db
mkdir -p backups
docker compose cp "bot:$inside" "$partial"
(cd "$partial" && verify)
mv "$partial" "backups/$stamp"
echo "Backed up into backups/$stamp"
