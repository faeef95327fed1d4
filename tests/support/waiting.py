import asyncio

from core.store import JobStore


async def wait_finished(store: JobStore, job_ids: list[str], seconds: float = 60.0) -> None:
    """Returns once every job has finished, woken by the store's own events."""
    cursor = 0
    async with asyncio.timeout(seconds):
        while not await _all_finished(store, job_ids):
            events = await store.events(cursor, wait=0.5)
            cursor = events[-1].seq if events else cursor


async def _all_finished(store: JobStore, job_ids: list[str]) -> bool:
    jobs = [await store.get(job_id) for job_id in job_ids]
    return all(job is not None and job.state.finished for job in jobs)
