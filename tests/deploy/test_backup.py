"""`python -m core.backup`, which scripts/backup.sh runs in the bot's container: a
consistent copy of a live SQLite file, where copying the file would lose writes, checked
before it is kept; and scripts/backup.sh, which keeps a whole backup or nothing."""

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
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


def damage(path: Path) -> None:
    """Damages the index of a database made by `make_db` the way a bad disk does: a
    page's bytes changed. SQLite still opens and copies it; integrity_check finds it."""
    db = sqlite3.connect(path)
    (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'jobs_name'").fetchone()
    (page,) = db.execute("PRAGMA page_size").fetchone()
    db.close()
    data = bytearray(path.read_bytes())
    start = (root - 1) * page
    for at in range(start + page - 400, start + page - 10):
        if data[at : at + 4] == b"job ":
            data[at + 4 : at + 9] = b"zzzzz"
    path.write_bytes(bytes(data))


def make_db(path: Path) -> Path:
    """A WAL database like the bot's, with an index."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    with db:
        db.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("CREATE INDEX jobs_name ON jobs (name)")
        db.executemany(
            "INSERT INTO jobs (name) VALUES (?)", [(f"job {i:05d}",) for i in range(3000)]
        )
    db.close()
    return path


def test_a_damaged_database_fails_the_backup_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger, store = make_db(tmp_path / "bot.db"), make_db(tmp_path / "imagine.db")
    damage(ledger)
    out = tmp_path / "backups" / "now"
    assert main(["backup", str(out), str(store), str(ledger)]) == 1
    said = capsys.readouterr()
    assert said.err.startswith("Backup failed: The copy of bot.db is damaged (row ")
    assert said.err.endswith("missing from index jobs_name); nothing was kept.\n")
    assert list((tmp_path / "backups").iterdir()) == []  # not even the store's good copy


def test_a_backup_folder_holds_the_checksums_of_its_copies(tmp_path: Path) -> None:
    store = make_db(tmp_path / "imagine.db")
    out = tmp_path / "backups" / "now"
    assert main(["backup", str(out), str(store)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["SHA256SUMS", "imagine.db"]
    check = subprocess.run(["sha256sum", "--check", "SHA256SUMS"], cwd=out, check=False)
    assert check.returncode == 0


# scripts/backup.sh itself, with tests/deploy/fake_docker.py as `docker`.

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Host:
    root: Path  # where backup.sh runs: a copy of scripts/, and backups/ beside it
    data: Path  # the bot container's /data
    log: Path  # every docker command the script ran

    def run(self, break_: str = "") -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": f"{self.root / 'bin'}:{os.environ['PATH']}",
            "FAKE_DOCKER_DATA": str(self.data),
            "FAKE_DOCKER_REPO": str(REPO),
            "FAKE_DOCKER_LOG": str(self.log),
            "FAKE_DOCKER_BREAK": break_,
        }
        script = self.root / "scripts" / "backup.sh"
        return subprocess.run(
            ["bash", str(script)], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    def kept(self) -> list[Path]:
        """What the backups folder holds on the host and in the container."""
        found = [*(self.root / "backups").glob("*"), *(self.root / "backups").glob(".*")]
        return found + list((self.data / "backups").glob("*"))


@pytest.fixture
def host(tmp_path: Path) -> Host:
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "backup.sh", tmp_path / "scripts" / "backup.sh")
    docker = tmp_path / "bin" / "docker"
    docker.parent.mkdir()
    docker.write_text(
        f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).parent / "fake_docker.py"}" "$@"\n'
    )
    docker.chmod(0o755)
    data = tmp_path / "data"
    make_db(data / "bot.db")
    make_db(data / "imagine.db")
    return Host(tmp_path, data, tmp_path / "docker.log")


def test_the_script_keeps_checked_copies_of_the_store_then_the_ledger(host: Host) -> None:
    done = host.run()
    assert done.returncode == 0, done.stderr
    [folder] = host.kept()
    assert done.stdout.endswith(f"Backed up into backups/{folder.name}\n")
    assert sorted(p.name for p in folder.iterdir()) == ["SHA256SUMS", "bot.db", "imagine.db"]
    assert rows(folder / "bot.db") == rows(folder / "imagine.db") == 3000
    # The store before the ledger: the order in which the two copies agree.
    [backup] = [line for line in host.log.read_text().splitlines() if "core.backup" in line]
    assert backup.endswith("/data/imagine.db /data/bot.db")


@pytest.mark.parametrize(
    ("break_", "said"),
    [
        ("cp", "no space left on device"),  # the copy to the host stops halfway
        ("bytes", "bot.db: FAILED"),  # the host got other bytes than were checked
    ],
)
def test_a_backup_that_fails_on_the_way_leaves_no_folder(
    host: Host, break_: str, said: str
) -> None:
    done = host.run(break_)
    assert done.returncode != 0
    assert said in done.stdout + done.stderr
    assert done.stderr.endswith("The backup failed; nothing was kept in backups/.\n")
    assert host.kept() == []


def test_a_damaged_database_stops_the_script_and_leaves_no_folder(host: Host) -> None:
    damage(host.data / "imagine.db")
    done = host.run()
    assert done.returncode != 0
    assert "Backup failed: The copy of imagine.db is damaged" in done.stderr
    assert host.kept() == []
