"""`python -m core.backup FOLDER DB...`: copies SQLite files into FOLDER while the bot and
the workers keep writing to them.

Copying the file itself is not safe: the newest writes may still sit in its `-wal` file,
and a copy taken mid-write can be torn. SQLite's online backup reads one consistent
snapshot instead, without stopping the writers.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path


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


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print("usage: python -m core.backup FOLDER DB...")
        return 2
    folder = Path(argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    for name in argv[2:]:
        source = Path(name)
        if not source.is_file():  # e.g. no job store file when the store is Redis
            print(f"Skipped {source}: there is no such file.")
            continue
        backup(source, folder / source.name)
        print(f"Saved {source} as {folder / source.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
