"""What the bot tells Prometheus: the jobs in the store by state, and its deliveries.

Only the bot reports the store's jobs, so several workers never report the same queue
twice. Served by `core.metrics.serve_metrics` when IMAGINE_METRICS_PORT is set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from prometheus_client import Counter, Gauge

from core.jobs import JobState

log = logging.getLogger(__name__)

REFRESH_SECONDS = 10.0  # about one Prometheus scrape interval

JOBS = Gauge("imagine_jobs", "Jobs in the store, by state.", ["state"])
QUEUE_DEPTH = Gauge("imagine_queue_depth", "Jobs waiting for a worker.")
DELIVERIES = Counter(
    "imagine_deliveries", "Finished jobs whose outcome was posted to Discord, by state.", ["state"]
)
DELIVERY_RETRIES = Counter(
    "imagine_delivery_retries", "Message updates that failed and will be tried again."
)

# Every label value from the start, so a dashboard sees 0 rather than no series.
for _state in JobState:
    JOBS.labels(_state.value)
    if _state.finished:
        DELIVERIES.labels(_state.value)


@runtime_checkable
class CountsJobs(Protocol):
    """A store that can count its jobs by state (the SQLite store can)."""

    async def counts(self) -> Mapping[JobState, int]: ...


async def refresh(store: object) -> None:
    """Sets the job gauges from the store; a store that cannot count leaves them alone."""
    if not isinstance(store, CountsJobs):
        return
    counts = await store.counts()
    for state in JobState:
        JOBS.labels(state.value).set(counts.get(state, 0))
    QUEUE_DEPTH.set(counts.get(JobState.QUEUED, 0))


async def watch_store(store: object, interval: float = REFRESH_SECONDS) -> None:
    """Refreshes the job gauges forever (a scrape must not wait on the store)."""
    while True:
        try:
            await refresh(store)
        except Exception:
            log.exception("Could not count the jobs in the store; will try again")
        await asyncio.sleep(interval)
