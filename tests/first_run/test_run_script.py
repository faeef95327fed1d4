"""scripts/run.sh on a first run: the settings are checked before anything is installed,
without a GPU it picks CPU-friendly defaults and says so, pip shows its progress as lines,
and when the worker cannot download it stops everything with the worker's sentence."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fake_discord import FakeDiscord
from tests.first_run.run_script import (
    copy_repo,
    fake_nvidia_smi,
    fake_venv,
    run,
    run_at_once,
    script_env,
    write_env_file,
)
from tests.first_run.test_download import closed_port
from tests.support.vocab import write_test_vocab

pytestmark = pytest.mark.timeout(180)


def bot_sentence(root: Path, **env: str) -> str:
    """What `python -m bot` says about its token: the sentence run.sh must repeat."""
    done = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=root,
        env={**script_env(), **env},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    return line


def test_without_env_the_bot_s_sentence_comes_first_and_nothing_is_installed(
    tmp_path: Path,
) -> None:
    root = copy_repo(tmp_path)
    started = time.monotonic()
    done = run_at_once(root)
    seconds = time.monotonic() - started
    assert done.returncode == 1
    assert done.stdout == ""
    sentence, hint = done.stderr.splitlines()
    assert sentence == bot_sentence(root) == "Configuration error: DISCORD_TOKEN is not set."
    assert hint.startswith("There is no .env here: cp .env.example .env, then put your bot token")
    assert not (root / ".venv").exists()
    assert seconds < 10  # a fraction of a second; generous for a busy test machine


def test_an_env_without_a_token_says_where_to_put_it(tmp_path: Path) -> None:
    root = copy_repo(tmp_path)
    (root / ".env").write_text("# copied from .env.example\nDISCORD_TOKEN=\nIMAGINE_SIZES=\n")
    done = run_at_once(root)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "Configuration error: DISCORD_TOKEN is not set.",
        "Put your bot token after DISCORD_TOKEN= in .env.",
    ]
    assert not (root / ".venv").exists()


def test_a_blank_token_gives_the_bot_s_own_sentence(tmp_path: Path) -> None:
    root = copy_repo(tmp_path)
    (root / ".env").write_text('DISCORD_TOKEN="   "\n')
    done = run_at_once(root)
    assert done.returncode == 1
    sentence = done.stderr.splitlines()[0]
    assert (
        sentence
        == bot_sentence(root)
        == "Configuration error: DISCORD_TOKEN is invalid: it is empty."
    )


async def test_an_empty_variable_in_the_environment_leaves_env_s_value(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    # As the processes read it: an empty value means not set, so .env's token counts.
    root = copy_repo(tmp_path)
    fake_venv(root)
    write_env_file(root, settings(tmp_path, fake_discord))
    code, output = await run(root, {**script_env(), "DISCORD_TOKEN": ""})
    assert "DISCORD_TOKEN" not in output
    assert "Starting the worker and the bot" in output
    assert code == 1  # the worker's download, as in every run here


def settings(tmp_path: Path, fake: FakeDiscord, **extra: str) -> dict[str, str]:
    """A .env for a run whose worker cannot download (nothing listens at the mirror)."""
    return {
        **fake.env(),
        "IMAGINE_STORE": f"sqlite:///{tmp_path / 'jobs.db'}",
        "IMAGINE_BOT_DB": str(tmp_path / "bot.db"),
        "IMAGINE_VOCAB": str(write_test_vocab(tmp_path / "vocab.gz")),
        "IMAGINE_CACHE_DIR": str(tmp_path / "cache"),
        "IMAGINE_DOWNLOAD_MIRROR": f"http://127.0.0.1:{closed_port()}",
        **extra,
    }


def pip_calls(pip_log: Path) -> list[str]:
    return pip_log.read_text().splitlines() if pip_log.exists() else []


async def test_without_a_gpu_it_installs_for_the_cpu_with_small_defaults(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    root = copy_repo(tmp_path)
    pip_log = fake_venv(root)
    write_env_file(root, settings(tmp_path, fake_discord))
    code, output = await run(root, script_env())
    assert (
        "No NVIDIA GPU found (nvidia-smi): installing CPU-only TensorFlow and using "
        "IMAGINE_SIZES=256x256, IMAGINE_MAX_BATCH=1 (set them in .env to choose others)."
    ) in output.splitlines()
    assert pip_calls(pip_log) == [
        "-m pip install --progress-bar off --upgrade pip",
        "-m pip install --progress-bar off -c constraints.txt -e .[bot]",
        "-m pip install --progress-bar off --upgrade pip",
        "-m pip install --progress-bar off -c constraints.txt -e .[bot,worker,cpu]",
    ]  # pip's own lines, no -q; no animated bar where the output is not a terminal
    assert (
        "INFO worker: Starting: models sd14, sizes 256x256, at most 1 image(s) per batch" in output
    )
    # Nothing listens at the download address: the worker's sentence ends the run.
    assert "ERROR worker: Could not download kcv_encoder.h5" in output
    assert code == 1
    assert "Traceback" not in output

    # A restart installs nothing (and so needs no network).
    code, output = await run(root, script_env())
    assert "Dependencies for bot,worker,cpu: already installed in .venv." in output
    assert len(pip_calls(pip_log)) == 4
    assert code == 1


async def test_the_admin_s_own_sizes_win_over_the_cpu_defaults(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    root = copy_repo(tmp_path)
    fake_venv(root)
    write_env_file(root, settings(tmp_path, fake_discord, IMAGINE_SIZES="384x384"))
    code, output = await run(root, script_env())
    assert (
        "No NVIDIA GPU found (nvidia-smi): installing CPU-only TensorFlow and using "
        "IMAGINE_MAX_BATCH=1 (set them in .env to choose others)."
    ) in output.splitlines()
    assert (
        "INFO worker: Starting: models sd14, sizes 384x384, at most 1 image(s) per batch" in output
    )
    assert code == 1


async def test_with_a_gpu_it_installs_tensorflow_with_cuda_and_keeps_the_defaults(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    root = copy_repo(tmp_path)
    pip_log = fake_venv(root)
    write_env_file(root, settings(tmp_path, fake_discord))
    code, output = await run(root, script_env(gpu_bin=fake_nvidia_smi(tmp_path / "bin")))
    assert "NVIDIA GPU found: installing TensorFlow with CUDA." in output.splitlines()
    assert "No NVIDIA GPU" not in output
    assert pip_calls(pip_log)[-1].endswith("-e .[bot,worker,gpu]")
    assert (
        "Starting: models sd14, sizes 512x512, 512x768, 768x512, at most 4 image(s) per batch"
        in output
    )
    assert code == 1


async def test_a_bad_setting_is_said_before_tensorflow_is_installed(tmp_path: Path) -> None:
    root = copy_repo(tmp_path)
    pip_log = fake_venv(root)
    (root / ".env").write_text("DISCORD_TOKEN=a.b.c\nIMAGINE_SIZES=100x100\n")
    code, output = await run(root, script_env())
    assert code == 1
    assert output.splitlines()[-1] == (
        "Configuration error: IMAGINE_SIZES is invalid: 100 is not a multiple of 128 "
        "between 128 and 2048."
    )
    assert pip_calls(pip_log)[-1].endswith("-e .[bot]")  # the bot's packages only
    assert "Starting" not in output
