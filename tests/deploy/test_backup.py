"""`python -m core.backup`, which scripts/backup.sh runs in the bot's container: a
consistent copy of a live SQLite file, where copying the file would lose writes."""

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.backup import main


@pytest.fixture
def live_db(tmp_path: Path) -> Iterator[Path]:
    """A WAL database whose writes are all still in its -wal file, its writer still open."""
    path = tmp_path / "live" / "imagine.db"
    path.parent.mkdir()
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    with writer:
        writer.execute("CREATE TABLE jobs (id INTEGER)")
        writer.executemany("INSERT INTO jobs VALUES (?)", [(i,) for i in range(100)])
    yield path
    writer.close()


def rows(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        (count,) = db.execute("SELECT COUNT(*) FROM jobs").fetchone()
        return int(count)
    finally:
        db.close()


def test_a_backup_holds_every_committed_write(
    live_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "backups" / "now"
    assert main(["backup", str(out), str(live_db), str(tmp_path / "bot.db")]) == 0
    assert rows(out / "imagine.db") == 100
    printed = capsys.readouterr().out
    assert f"Saved {live_db} as {out / 'imagine.db'}" in printed
    assert f"Skipped {tmp_path / 'bot.db'}: there is no such file." in printed
    assert not (out / "bot.db").exists()


def test_copying_the_file_instead_would_lose_the_writes(live_db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    shutil.copy(live_db, copy)
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        rows(copy)


def test_usage_without_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backup", "somewhere"]) == 2
    assert capsys.readouterr().out.startswith("usage: python -m core.backup")
