"""What the bot keeps in the job store: finished jobs past IMAGINE_RETENTION_DAYS are
purged with their pictures, and a deleted picture leaves no stored copy."""

import asyncio
import dataclasses
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.jobs import JobResult
from core.settings import CommonSettings, describe
from core.store.base import DAY
from core.store.sqlite import SqliteJobStore
from tests.fake_discord import FakeDiscord
from tests.support.bot_stack import Stack, running_bot
from tests.support.clock import FakeClock
from tests.support.jobs import new_job


async def finished_at(path: Path, moment: float) -> str:
    """An img2img job that finished at `moment`, with its result, in the store at `path`."""
    store = await SqliteJobStore.open(path, clock=FakeClock(moment))
    job = dataclasses.replace(new_job(), source_png=b"\x89PNG source")
    await store.enqueue(job)
    await store.claim("w")
    assert await store.complete(job.id, "w", JobResult(b"grid", (b"one",), 1.0))
    await store.close()
    return job.id


async def test_the_bot_purges_jobs_past_the_retention_it_is_given(
    fake_discord: FakeDiscord, tmp_path: Path, job_store: SqliteJobStore
) -> None:
    now = time.time()
    old = await finished_at(tmp_path / "jobs.db", now - 2 * DAY)
    recent = await finished_at(tmp_path / "jobs.db", now - DAY / 2)
    async with running_bot(fake_discord, tmp_path, IMAGINE_RETENTION_DAYS=1):
        async with asyncio.timeout(10):  # the bot purges at start, then every 10 minutes
            while await job_store.get(old) is not None:  # noqa: ASYNC110 (no event says so)
                await asyncio.sleep(0.02)
    assert await job_store.source(old) is None
    assert await job_store.result(old) is None
    assert await job_store.result(recent) is not None
    assert await job_store.source(recent) == b"\x89PNG source"


async def test_deleting_a_result_drops_its_stored_pictures_at_once(stack: Stack) -> None:
    first = await stack.fake.slash("imagine", {"prompt": "a lighthouse"})
    final = await first.wait_original(lambda m: bool(m.attachments), 30)
    vary = await stack.fake.click(final, f"img:vary:{first.id}:0")  # a job with a source
    varied = await vary.wait_original(lambda m: bool(m.attachments), 30)
    job_id = str(vary.id)
    assert await stack.store.source(job_id) is not None
    await stack.fake.click(varied, f"img:delete:{job_id}")
    await stack.fake.wait_for(lambda: varied.deleted)
    assert await stack.store.result(job_id) is None
    assert await stack.store.source(job_id) is None
    assert await stack.store.get(job_id) is not None  # the record stays: buttons say "gone"
    full = await stack.fake.click(final, f"img:full:{first.id}:0")  # another job: untouched
    assert (await full.wait_callback()).files


@pytest.mark.parametrize("value", ["0", "-1", "a week"])
def test_a_bad_retention_is_refused_with_one_sentence_naming_it(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGINE_RETENTION_DAYS", value)
    with pytest.raises(ValidationError) as refused:
        CommonSettings(_env_file=None)
    assert describe(refused.value).startswith("IMAGINE_RETENTION_DAYS is invalid: ")
