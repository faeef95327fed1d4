"""A stand-in for the two `docker compose` commands scripts/backup.sh runs, so the script
itself can be tested on a machine without Docker: the bot's container is a folder
(FAKE_DOCKER_DATA holds its /data) and its commands run here, in the project
(FAKE_DOCKER_REPO). Every call is appended to FAKE_DOCKER_LOG.

FAKE_DOCKER_BREAK names what to break: `cp` copies one file, then fails (a disk that
fills up); `bytes` damages a copied file on its way to the host.

    docker compose exec -T bot COMMAND...    COMMAND with /data... paths mapped
    docker compose cp bot:SOURCE DEST        a folder of the container to this host
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

DATA = os.environ["FAKE_DOCKER_DATA"]
BREAK = os.environ.get("FAKE_DOCKER_BREAK", "")


def in_container(arg: str) -> str:
    return DATA + arg.removeprefix("/data") if arg.startswith("/data") else arg


def execute(command: list[str]) -> int:
    mapped = [in_container(arg) for arg in command]
    if mapped[0] == "python":
        mapped[0] = sys.executable
    return subprocess.run(mapped, cwd=os.environ["FAKE_DOCKER_REPO"], check=False).returncode


def copy_out(source: Path, dest: Path) -> int:
    if BREAK == "cp":
        dest.mkdir(parents=True)
        first = sorted(source.iterdir())[0]
        shutil.copy(first, dest / first.name)
        print("Error response from daemon: no space left on device", file=sys.stderr)
        return 1
    shutil.copytree(source, dest)
    if BREAK == "bytes":
        damaged = dest / "bot.db"
        data = bytearray(damaged.read_bytes())
        data[-100] ^= 0xFF
        damaged.write_bytes(bytes(data))
    return 0


def main(args: list[str]) -> int:
    with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
        log.write(" ".join(args) + "\n")
    if args[:4] == ["compose", "exec", "-T", "bot"]:
        return execute(args[4:])
    if args[:2] == ["compose", "cp"] and args[2].startswith("bot:"):
        return copy_out(Path(in_container(args[2].removeprefix("bot:"))), Path(args[3]))
    print(f"fake docker: {' '.join(args)} is not something backup.sh runs", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
