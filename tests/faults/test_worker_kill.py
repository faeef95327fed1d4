"""Worker processes killed with SIGKILL in the middle of jobs: every job is claimed again
after its lease, finishes, and is delivered exactly once, into its status message."""

import asyncio
import signal
from pathlib import Path

import pytest

from core.jobs import EventKind, JobState
from core.store import JobStore
from core.store.sqlite import SqliteJobStore
from tests.fake_discord import FakeDiscord, FakeInteraction
from tests.support import processes
from tests.support.bot_stack import running_bot

pytestmark = pytest.mark.timeout(300)
KILLS = 10


def worker_env(tmp_path: Path) -> dict[str, str]:
    return processes.stack_env(
        tmp_path,
        sizes="128x128,256x128",
        IMAGINE_LEASE_SECONDS="1.5",
        IMAGINE_MAX_BATCH="1",
        TEST_STEP_SECONDS="0.05",
    )


async def kill_mid_job(store: JobStore, env: dict[str, str], log: Path, cursor: int) -> int:
    """Starts a worker, SIGKILLs it once it is drawing a job on its first attempt."""
    worker = await processes.start("tests.support.fake_worker", env, log)
    async with asyncio.timeout(60):
        while True:
            events = await store.events(cursor, wait=0.5)
            cursor = events[-1].seq if events else cursor
            fresh = [e for e in events if e.kind is EventKind.PROGRESS and e.step >= 2]
            if fresh and (job := await store.get(fresh[-1].job_id)) and job.attempts == 1:
                break
    worker.send_signal(signal.SIGKILL)
    await worker.wait()
    return cursor


async def test_sigkill_mid_job_ten_times_loses_and_duplicates_nothing(
    fake_discord: FakeDiscord, tmp_path: Path, job_store: SqliteJobStore
) -> None:
    store = job_store
    env = worker_env(tmp_path)
    async with running_bot(fake_discord, tmp_path):
        interactions: list[FakeInteraction] = []
        for n in range(KILLS):
            options = {"prompt": f"job {n}", "steps": 20, "size": "128x128"}
            interactions.append(await fake_discord.slash("imagine", options))
        cursor = 0
        for _ in range(KILLS):
            cursor = await kill_mid_job(store, env, tmp_path / "worker.log", cursor)
        survivor = await processes.start("tests.support.fake_worker", env, tmp_path / "last.log")
        finals = [await i.wait_original(lambda m: bool(m.attachments), 120) for i in interactions]
        await fake_discord.wait_for(lambda: all(fake_discord.replies_to(m) for m in finals))
        assert await processes.stop(survivor) == 0

    jobs = [await store.get(str(i.id)) for i in interactions]
    assert all(job is not None and job.state is JobState.DONE for job in jobs)
    retried = sum(1 for job in jobs if job is not None and job.attempts == 2)
    deliveries = [sum(1 for v in m.versions if v.get("attachments")) for m in finals]
    lost = sum(1 for m in finals if not m.attachments)
    duplicated = sum(n - 1 for n in deliveries) + sum(len(i.followups) for i in interactions)
    print(
        f"SIGKILL x {KILLS} mid-job: {KILLS - lost}/{KILLS} delivered once, lost {lost}, "
        f"duplicated {duplicated}, re-run after a kill {retried}"
    )
    assert (lost, duplicated, retried) == (0, 0, KILLS)
    # No stray second messages: the results, and one notification reply to each.
    assert len(fake_discord.messages()) == 2 * KILLS
    assert [len(fake_discord.replies_to(m)) for m in finals] == [1] * KILLS
