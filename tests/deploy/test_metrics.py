"""The metrics endpoint, scraped over HTTP, and its numbers moving when the code runs:
the real worker loop (small engine), the real store, the real bot against the fake Discord."""

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from bot import metrics as bot_metrics
from core.jobs import JobState
from core.metrics import serve_metrics
from core.settings import WorkerSettings
from core.store.sqlite import SqliteJobStore
from tests.deploy.metrics import free_port, key, scrape
from tests.support.bot_stack import Stack
from tests.support.engines import POISON, StepEngine
from tests.support.jobs import new_job
from tests.support.waiting import wait_finished
from worker.loop import Worker

BOT_EDITS = r"/webhooks/\d+/[^/]+/messages/\d+$"


@pytest.fixture
def endpoint() -> Iterator[str]:
    port = free_port()
    server = serve_metrics(WorkerSettings(_env_file=None, IMAGINE_METRICS_PORT=port))
    assert server is not None
    yield f"http://127.0.0.1:{port}/metrics"
    server.shutdown()
    server.server_close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteJobStore]:
    opened = await SqliteJobStore.open(tmp_path / "jobs.db")
    yield opened
    await opened.close()


def test_metrics_are_off_without_a_port() -> None:
    assert serve_metrics(WorkerSettings(_env_file=None)) is None


def test_the_endpoint_serves_every_metric(endpoint: str) -> None:
    samples = scrape(endpoint)
    expected = [
        "imagine_images_generated_total",
        "imagine_step_seconds_count",
        "imagine_batch_images_count",
        "imagine_job_failures_total",
        "imagine_queue_depth",
        "imagine_delivery_retries_total",
        *(key("imagine_jobs", {"state": state.value}) for state in JobState),
        *(key("imagine_deliveries_total", {"state": s}) for s in ("done", "failed", "canceled")),
    ]
    assert [name for name in expected if name not in samples] == []


def test_a_port_in_use_stops_the_process_with_one_sentence() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit, match=r"IMAGINE_METRICS_PORT is invalid: 127\.0\.0\.1:"):
            serve_metrics(WorkerSettings(_env_file=None, IMAGINE_METRICS_PORT=port))


async def run_worker(store: SqliteJobStore, engine: StepEngine, job_ids: list[str]) -> None:
    worker = Worker(store, engine, worker_id="w1", max_images=4, lease_seconds=30)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await wait_finished(store, job_ids)
    stop.set()
    await asyncio.wait_for(task, 10)


async def test_the_worker_counts_images_batches_and_step_times(
    endpoint: str, store: SqliteJobStore
) -> None:
    before = await asyncio.to_thread(scrape, endpoint)
    jobs = [new_job(count=2, steps=4), new_job(count=1, steps=4)]
    for job in jobs:
        await store.enqueue(job)
    await run_worker(store, StepEngine(step_seconds=0.01), [job.id for job in jobs])
    after = await asyncio.to_thread(scrape, endpoint)

    def grew(name: str) -> float:
        return after[name] - before[name]

    assert grew("imagine_images_generated_total") == 3
    assert grew("imagine_batch_images_count") == 1  # both jobs shared one batch
    assert grew("imagine_batch_images_sum") == 3
    assert grew("imagine_step_seconds_count") == 1
    assert grew("imagine_step_seconds_sum") >= 0.01  # each step slept that long


async def test_the_worker_counts_engine_failures(endpoint: str, store: SqliteJobStore) -> None:
    before = await asyncio.to_thread(scrape, endpoint)
    job = new_job(prompt=f"{POISON} pill", max_attempts=2)
    await store.enqueue(job)
    await run_worker(store, StepEngine(), [job.id])
    after = await asyncio.to_thread(scrape, endpoint)
    assert after["imagine_job_failures_total"] - before["imagine_job_failures_total"] == 2


async def test_the_bot_reports_the_jobs_in_the_store_by_state(
    endpoint: str, store: SqliteJobStore
) -> None:
    for _ in range(3):
        await store.enqueue(new_job())
    await store.claim("w1")
    assert await store.counts() == {JobState.QUEUED: 2, JobState.RUNNING: 1}
    watching = asyncio.create_task(bot_metrics.watch_store(store, interval=0.01))
    await asyncio.sleep(0.1)
    watching.cancel()
    samples = await asyncio.to_thread(scrape, endpoint)
    jobs = {state: samples[key("imagine_jobs", {"state": state.value})] for state in JobState}
    assert jobs == {
        JobState.QUEUED: 2,
        JobState.RUNNING: 1,
        JobState.DONE: 0,
        JobState.FAILED: 0,
        JobState.CANCELED: 0,
    }
    assert samples["imagine_queue_depth"] == 2


async def test_a_store_that_cannot_count_leaves_the_job_gauges_alone() -> None:
    bot_metrics.QUEUE_DEPTH.set(5)
    await bot_metrics.refresh(object())
    assert REGISTRY.get_sample_value("imagine_queue_depth") == 5


def counted(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_the_bot_counts_deliveries_and_their_retries(endpoint: str, stack: Stack) -> None:
    done = {"state": "done"}
    before = await asyncio.to_thread(scrape, endpoint)
    # Five 500s outlast discord.py's own retries of a 5xx: the bot's retry loop must
    # deliver the result after them (a 403 would close the delivery: it is permanent).
    stack.fake.fail_next("PATCH", BOT_EDITS, 500, times=5)
    await stack.fake.slash("imagine", {"prompt": "a fox"})
    deliveries = key("imagine_deliveries_total", done)
    async with asyncio.timeout(60):  # a counter has no event to wait on
        while counted("imagine_deliveries_total", done) == before[deliveries]:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    after = await asyncio.to_thread(scrape, endpoint)
    assert after[deliveries] - before[deliveries] == 1
    assert after["imagine_delivery_retries_total"] > before["imagine_delivery_retries_total"]
