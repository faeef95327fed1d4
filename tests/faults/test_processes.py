"""The worker and bot processes under signals, health checks and bad settings."""

import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.jobs import JobState
from core.store.sqlite import SqliteJobStore
from tests.fake_discord import FakeDiscord
from tests.support import processes
from tests.support.jobs import new_job
from tests.support.waiting import states, wait_jobs

pytestmark = pytest.mark.timeout(120)


async def test_sigterm_gives_the_running_job_back_without_using_an_attempt(
    tmp_path: Path, job_store: SqliteJobStore
) -> None:
    store = job_store
    env = processes.stack_env(tmp_path, TEST_STEP_SECONDS="0.05")
    job = new_job(steps=10_000)
    await store.enqueue(job)
    worker = await processes.start("tests.support.fake_worker", env, tmp_path / "worker.log")
    await wait_jobs(store, [job.id], lambda jobs: jobs[0].step > 0)
    assert await processes.stop(worker, seconds=10) == 0
    [back] = await wait_jobs(store, [job.id], states(JobState.QUEUED))
    assert (back.attempts, back.lease_owner) == (0, None)
    assert "stopped" in (tmp_path / "worker.log").read_text()


def run_check(env: dict[str, str]) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "worker", "check"], env=env, capture_output=True, text=True
    )
    return done.returncode, done.stdout + done.stderr


def test_worker_check_tells_alive_from_stale_and_missing(tmp_path: Path) -> None:
    env = processes.stack_env(tmp_path, IMAGINE_LEASE_SECONDS="30")
    beat = Path(env["IMAGINE_HEARTBEAT_FILE"])
    assert run_check(env)[0] == 1  # no worker ever ran
    beat.touch()
    code, text = run_check(env)  # the check's own start-up can take seconds on a busy host
    assert code == 0
    assert re.fullmatch(r"The worker is alive \(heartbeat \d+ s ago\)\.\n", text)
    old = time.time() - 120
    os.utime(beat, (old, old))
    code, text = run_check(env)
    assert code == 1
    assert "stuck or stopped" in text


async def test_a_running_worker_keeps_its_heartbeat_fresh(tmp_path: Path) -> None:
    env = processes.stack_env(tmp_path, IMAGINE_LEASE_SECONDS="2")
    worker = await processes.start("tests.support.fake_worker", env, tmp_path / "worker.log")
    beat = Path(env["IMAGINE_HEARTBEAT_FILE"])
    await processes.wait_path(beat)
    await asyncio.sleep(2.5)  # longer than the lease: only a live worker keeps it fresh
    assert run_check(env)[0] == 0
    assert await processes.stop(worker) == 0


async def test_a_refused_token_stops_the_bot_with_one_sentence_and_no_token(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    wrong = "MTIzNDU2Nzg5.wrong.token-that-must-never-be-logged"
    env = processes.stack_env(tmp_path, **{**fake_discord.env(), "DISCORD_TOKEN": wrong})
    bot = await processes.start("bot", env, tmp_path / "bot.log")
    assert await bot.wait() == 2
    log = (tmp_path / "bot.log").read_text()
    assert "Discord refused DISCORD_TOKEN" in log
    assert wrong not in log
    assert "Traceback" not in log


@pytest.mark.parametrize(
    ("module", "variable", "value", "sentence"),
    [
        ("bot", "DISCORD_TOKEN", None, "DISCORD_TOKEN is not set."),
        ("bot", "IMAGINE_SIZES", "100x100", "IMAGINE_SIZES is invalid"),
        ("worker", "IMAGINE_WEIGHTS", "/no/such/folder", "IMAGINE_WEIGHTS is invalid"),
        ("worker", "IMAGINE_MAX_BATCH", "lots", "IMAGINE_MAX_BATCH is invalid"),
        ("worker", "IMAGINE_STORE", "mysql://x", "IMAGINE_STORE is invalid"),
    ],
)
async def test_a_bad_setting_stops_the_process_with_one_sentence(
    tmp_path: Path, module: str, variable: str, value: str | None, sentence: str
) -> None:
    env = processes.stack_env(tmp_path, DISCORD_TOKEN="x.y.z")
    if value is None:
        del env[variable]
    else:
        env[variable] = value
    process = await processes.start(module, env, tmp_path / "out.log")
    assert await process.wait() == 1
    [line] = (tmp_path / "out.log").read_text().strip().splitlines()
    assert line.startswith(f"Configuration error: {sentence}")
