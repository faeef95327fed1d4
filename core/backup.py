"""`python -m core.backup FOLDER DB...`: copies SQLite files into FOLDER while the bot and
the workers keep writing to them, checks each copy, and leaves either the whole backup
or nothing.

Copying the file itself is not safe: the newest writes may still sit in its `-wal` file,
and a copy taken mid-write can be torn. SQLite's online backup reads one consistent
snapshot instead, without stopping the writers. Each copy then passes `PRAGMA
integrity_check` (a source damaged on disk makes a damaged copy: better to hear it now
than on the day of the restore), and FOLDER/SHA256SUMS lets whoever moves the backup
elsewhere check they moved the same bytes. The copies are made in FOLDER.partial, which
becomes FOLDER only once all of them passed; on any failure it is removed.

The files are copied one after the other, each at its own moment. scripts/backup.sh
passes the job store before the bot's ledger, and in that order the two copies agree on
what matters: the bot notes a job's delivery in the ledger before it puts the job in the
store, so every job in the store's copy has its delivery in the ledger's (taken later).
What a restore may see instead:
- a delivery whose job is not in the store's copy (queued between the two copies): the
  bot closes it as "never reached the queue" an hour later, and that member's command
  keeps its last status;
- a delivery the ledger already closed for a job the store's copy still has queued or
  running (it finished between the copies): a worker may run that job again, and its
  result is not delivered again (its delivery is closed).
In the other order, a job queued between the copies would be in the store without a
delivery: made after a restore, and never delivered.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import sys
from pathlib import Path

SUMS = "SHA256SUMS"


class BackupError(Exception):
    """A sentence saying why the backup was not made."""


def backup(source: Path, target: Path) -> None:
    """Writes a consistent copy of the database `source` to `target`."""
    reader = sqlite3.connect(source)
    try:
        writer = sqlite3.connect(target)
        try:
            reader.backup(writer)
        finally:
            writer.close()
    finally:
        reader.close()


def check_integrity(path: Path) -> None:
    """Raises BackupError unless SQLite finds `path` whole."""
    db = sqlite3.connect(path)
    try:
        found = [row[0] for row in db.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as error:  # too damaged to even be checked
        found = [str(error)]
    finally:
        db.close()
    if found != ["ok"]:
        raise BackupError(f"The copy of {path.name} is damaged ({found[0]}); nothing was kept.")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def back_up_into(folder: Path, sources: list[Path]) -> list[str]:
    """Copies and checks `sources` into `folder` (made whole, or not at all); returns
    a line per source saying what was done."""
    if folder.exists():
        raise BackupError(f"{folder} exists already; nothing was changed.")
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # left by a run that was killed
    partial.mkdir(parents=True)
    try:
        said, sums = _copy_all(partial, folder, sources)
        (partial / SUMS).write_text(sums)
        partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return said


def _copy_all(partial: Path, folder: Path, sources: list[Path]) -> tuple[list[str], str]:
    """Makes the copies in `partial` (to become `folder`); says what was done with each,
    and returns their SHA256SUMS lines."""
    said, sums = [], ""
    for source in sources:
        if not source.is_file():  # e.g. no job store file when the store is Redis
            said.append(f"Skipped {source}: there is no such file.")
            continue
        target = partial / source.name
        try:
            backup(source, target)
        except sqlite3.Error as error:
            raise BackupError(f"Could not copy {source} ({error}); nothing was kept.") from None
        check_integrity(target)
        sums += f"{sha256(target)}  {target.name}\n"
        said.append(f"Saved {source} as {folder / target.name}")
    return said, sums


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print("usage: python -m core.backup FOLDER DB...")
        return 2
    try:
        said = back_up_into(Path(argv[1]), [Path(name) for name in argv[2:]])
    except (BackupError, OSError) as error:
        print(f"Backup failed: {error}", file=sys.stderr)
        return 1
    print("\n".join(said))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
