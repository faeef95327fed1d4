"""Four worker processes on one SQLite file, hundreds of jobs enqueued concurrently:
every job runs, none runs twice at once, no "database is locked" escapes."""

import asyncio
from collections import defaultdict
from pathlib import Path

import pytest

from core.jobs import JobState
from core.store.sqlite import SqliteJobStore
from tests.support import processes
from tests.support.jobs import new_job
from tests.support.waiting import wait_finished

pytestmark = pytest.mark.timeout(300)
WORKERS, JOBS, PRODUCERS = 4, 300, 6


def overlapping_runs(journal: Path) -> list[str]:
    """Jobs that some process started while another process was still running them."""
    running: dict[str, set[str]] = defaultdict(set)
    overlaps = []
    for line in journal.read_text().splitlines():
        pid, what, _, prompt = line.split(" ", 3)
        if what == "start":
            if running[prompt]:
                overlaps.append(prompt)
            running[prompt].add(pid)
        else:
            running[prompt].discard(pid)
    return overlaps


async def test_four_workers_share_three_hundred_jobs(tmp_path: Path) -> None:
    journal = tmp_path / "journal.txt"
    env = processes.stack_env(tmp_path, TEST_ENGINE_JOURNAL=str(journal), TEST_STEP_SECONDS="0.002")
    logs = [tmp_path / f"worker{n}.log" for n in range(WORKERS)]
    workers = [await processes.start("tests.support.fake_worker", env, log) for log in logs]
    producers = [await SqliteJobStore.open(tmp_path / "jobs.db") for _ in range(PRODUCERS)]
    jobs = [new_job(prompt=f"job {n}", count=1 + n % 4) for n in range(JOBS)]

    async def produce(index: int) -> None:
        for job in jobs[index::PRODUCERS]:
            await producers[index].enqueue(job)

    try:
        await asyncio.gather(*(produce(n) for n in range(PRODUCERS)))
        await wait_finished(producers[0], [job.id for job in jobs], seconds=240)
        codes = [await processes.stop(worker) for worker in workers]
        finished = [await producers[0].get(job.id) for job in jobs]
    finally:
        for store in producers:
            await store.close()

    assert codes == [0] * WORKERS
    assert all(job is not None and job.state is JobState.DONE for job in finished)
    starts = [line for line in journal.read_text().splitlines() if " start " in line]
    assert len(starts) == JOBS  # every job ran, and exactly once
    assert overlapping_runs(journal) == []
    served_by = {line.split()[0] for line in starts}
    assert len(served_by) == WORKERS  # the work was really shared
    text = "".join(log.read_text() for log in logs)
    assert "locked" not in text
    assert "Traceback" not in text
