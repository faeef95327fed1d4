"""scripts/run.sh in a copy of the repository, installing nothing: a stand-in
.venv/bin/python records pip's arguments and runs everything else on the tests' Python."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COPIED = ("scripts", "core", "bot", "worker", "pyproject.toml", "constraints.txt", ".env.example")


def copy_repo(tmp_path: Path) -> Path:
    root = tmp_path / "imagine-bot"
    root.mkdir()
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, root / name)
    return root


def fake_venv(root: Path) -> Path:
    """A .venv whose python logs `-m pip ...` to the returned file instead of installing."""
    pip_log = root / "pip.log"
    python = root / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = -m ] && [ "$2" = pip ]; then echo "$*" >> {shlex.quote(str(pip_log))}; '
        "exit 0; fi\n"
        f'exec {shlex.quote(sys.executable)} "$@"\n'
    )
    python.chmod(0o755)
    return pip_log


def fake_nvidia_smi(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    smi = folder / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0)'\n")
    smi.chmod(0o755)
    return folder


def script_env(gpu_bin: Path | None = None) -> dict[str, str]:
    """The environment without the project's settings, and with a GPU only if asked:
    PATH keeps no folder that holds a real nvidia-smi."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGINE_", "DISCORD_"))}
    folders = [p for p in env["PATH"].split(os.pathsep) if not Path(p, "nvidia-smi").exists()]
    if gpu_bin is not None:
        folders.insert(0, str(gpu_bin))
    env["PATH"] = os.pathsep.join(folders)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


def write_env_file(root: Path, settings: dict[str, str]) -> None:
    (root / ".env").write_text("".join(f"{key}={value}\n" for key, value in settings.items()))


def run_at_once(root: Path) -> subprocess.CompletedProcess[str]:
    """`bash scripts/run.sh` where it must stop before installing anything."""
    return subprocess.run(
        ["bash", "scripts/run.sh"], cwd=root, env=script_env(), capture_output=True, text=True
    )


async def run(root: Path, env: dict[str, str], seconds: float = 90) -> tuple[int, str]:
    """`bash scripts/run.sh` to its end; its output, stdout and stderr together."""
    log = root / "run.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            "bash",
            "scripts/run.sh",
            cwd=root,
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,  # so a test that fails can stop it and its children
        )
    try:
        await asyncio.wait_for(process.wait(), seconds)
    except TimeoutError:
        os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        output = log.read_text()
        raise AssertionError(f"run.sh still running after {seconds} s:\n{output}") from None
    assert process.returncode is not None
    assert not _left_running(process.pid), f"run.sh left processes running:\n{log.read_text()}"
    return process.returncode, log.read_text()


def _left_running(group: int) -> bool:
    """Whether any process of run.sh's session is still there (then killed)."""
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True
