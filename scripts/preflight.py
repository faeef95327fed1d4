"""scripts/run.sh's checks before it installs or starts anything.

`python3 scripts/preflight.py` runs on the system's Python with the standard library
alone (no .venv yet, and any Python 3 old enough to need telling): it checks the Python
version, that a virtual environment can be made, and that DISCORD_TOKEN is set in the
environment or .env, saying what is wrong in the sentence the bot itself would give. It
then prints, for run.sh to `eval`, which TensorFlow to install (`tf=gpu` or `tf=cpu`)
and, without a GPU, CPU-friendly defaults for the settings the admin left unset.

`.venv/bin/python scripts/preflight.py --full`, once the base packages are installed,
reads every setting the way the bot and the worker will (core/settings.py's `load`), so
a wrong value is said before TensorFlow is installed or a process starts.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENV_FILE = Path(".env")  # read from the folder run.sh runs in, as the processes read it
NEEDED_PYTHON = (3, 11)
# Without a GPU: one small size and one image at a time (the same as
# docker-compose.cpu.yml): a few CPU cores take a minute or more per 256x256 image.
CPU_DEFAULTS = {"IMAGINE_SIZES": "256x256", "IMAGINE_MAX_BATCH": "1"}


def dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as python-dotenv reads the common cases: `export`, quotes, and
    comments (a whole line, or after a space in an unquoted value)."""
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].strip()
        values[key.strip()] = value
    return values


def settings() -> dict[str, str]:
    """The settings as the processes see them: the environment wins over .env, and an
    empty value means not set (core/settings.py: env_ignore_empty)."""
    merged = {k: v for k, v in dotenv(ENV_FILE).items() if v} if ENV_FILE.is_file() else {}
    merged.update((key, value) for key, value in os.environ.items() if value)
    return merged


def fail(sentence: str, hint: str) -> None:
    print(sentence, file=sys.stderr)
    print(hint, file=sys.stderr)
    sys.exit(1)


def check_python() -> None:
    found = sys.version_info[:2]
    if found < NEEDED_PYTHON:
        fail(
            f"imagine-bot needs Python {'.'.join(map(str, NEEDED_PYTHON))} or newer, and "
            f"{sys.executable} is {'.'.join(map(str, found))}.",
            "Install a newer Python and name it: PYTHON=python3.11 bash scripts/run.sh",
        )
    if not Path(".venv/bin/python").exists():
        try:
            import ensurepip  # noqa: F401
            import venv  # noqa: F401
        except ImportError:
            fail(
                f"{sys.executable} cannot make a virtual environment (no venv/ensurepip).",
                f"On Debian or Ubuntu: sudo apt install python{found[0]}.{found[1]}-venv",
            )


def check_token(values: dict[str, str]) -> None:
    """The sentences are core/settings.py's for a missing or empty DISCORD_TOKEN (tests
    compare them with the bot's)."""
    token = values.get("DISCORD_TOKEN")
    if token is not None and token.strip():
        return
    if token is not None:  # only spaces: set, but empty
        fail(
            "Configuration error: DISCORD_TOKEN is invalid: it is empty.",
            "Put your bot token after DISCORD_TOKEN= in .env.",
        )
    sentence = "Configuration error: DISCORD_TOKEN is not set."
    if not ENV_FILE.is_file():
        fail(
            sentence,
            "There is no .env here: cp .env.example .env, then put your bot token after "
            "DISCORD_TOKEN= in it (README.md, Quick start).",
        )
    fail(sentence, "Put your bot token after DISCORD_TOKEN= in .env.")


def has_gpu() -> bool:
    """An NVIDIA GPU that the driver answers for (nvidia-smi lists one)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return listed.returncode == 0 and "GPU" in listed.stdout


def plan(values: dict[str, str]) -> list[str]:
    """Shell lines for run.sh: which TensorFlow, and the CPU defaults it applies."""
    if has_gpu():
        print("NVIDIA GPU found: installing TensorFlow with CUDA.", file=sys.stderr)
        return ["tf=gpu"]
    chosen = {key: value for key, value in CPU_DEFAULTS.items() if key not in values}
    given = ", ".join(f"{key}={value}" for key, value in chosen.items())
    print(
        "No NVIDIA GPU found (nvidia-smi): installing CPU-only TensorFlow"
        + (f" and using {given} (set them in .env to choose others)." if chosen else "."),
        file=sys.stderr,
    )
    return ["tf=cpu", *(f"export {key}={shlex.quote(value)}" for key, value in chosen.items())]


def full_check() -> None:
    """Every setting, read by the code the processes run: the same sentences."""
    sys.path.insert(0, str(REPO))
    from core.settings import BotSettings, WorkerSettings, load

    load(BotSettings)
    load(WorkerSettings)


def main(args: list[str]) -> None:
    if args == ["--full"]:
        full_check()
        return
    check_python()
    values = settings()
    check_token(values)
    print("\n".join(plan(values)))


if __name__ == "__main__":
    main(sys.argv[1:])
