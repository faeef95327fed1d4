import asyncio
from collections.abc import Callable

from core.jobs import Job, JobState
from core.store import JobStore

Check = Callable[[list[Job]], bool]


async def wait_jobs(
    store: JobStore, job_ids: list[str], check: Check, seconds: float = 60.0
) -> list[Job]:
    """Returns the jobs once `check` holds for them, woken by the store's own events."""
    cursor = 0
    async with asyncio.timeout(seconds):
        while True:
            jobs = [job for job_id in job_ids if (job := await store.get(job_id))]
            if len(jobs) == len(job_ids) and check(jobs):
                return jobs
            events = await store.events(cursor, wait=0.5)
            cursor = events[-1].seq if events else cursor


async def wait_finished(store: JobStore, job_ids: list[str], seconds: float = 60.0) -> None:
    await wait_jobs(store, job_ids, lambda jobs: all(j.state.finished for j in jobs), seconds)


def states(*wanted: JobState) -> Check:
    return lambda jobs: [job.state for job in jobs] == list(wanted)
