"""Purging finished jobs past IMAGINE_RETENTION_DAYS with their pictures, a few at a time.

The bot runs `keep_purging` (one bot per deployment, so one purger; the workers' loops
stay with the GPU). On Redis every key of a finished job also expires by itself after the
retention; the purge there only tidies the index of finished jobs.
"""

from __future__ import annotations

import asyncio
import logging

from core.store import JobStore
from core.store.base import PURGE_BATCH

log = logging.getLogger(__name__)

PURGE_EVERY_SECONDS = 600.0
# Between two batches: longer than SQLite's longest busy-handler sleep (100 ms), so a
# worker waiting for the write lock gets it before the next batch takes it again.
PAUSE_SECONDS = 0.2


async def purge_due(store: JobStore, *, pause: float = PAUSE_SECONDS) -> int:
    """Purges every finished job past the retention, one batch per transaction; returns
    how many went."""
    total = 0
    while True:
        purged = await store.purge(limit=PURGE_BATCH)
        total += purged
        if purged < PURGE_BATCH:
            return total
        await asyncio.sleep(pause)


async def keep_purging(store: JobStore, *, every: float = PURGE_EVERY_SECONDS) -> None:
    """Purges now, then every `every` seconds, until canceled; a failure (the store out
    of reach) is logged and tried again next time."""
    while True:
        try:
            purged = await purge_due(store)
        except Exception:
            log.warning("Could not purge old jobs; trying again later", exc_info=True)
        else:
            if purged:
                log.info("Purged %d finished job(s) past the retention", purged)
        await asyncio.sleep(every)
