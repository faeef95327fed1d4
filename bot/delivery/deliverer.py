"""Turns job changes into Discord messages: status edits while a job waits and runs,
then its outcome edited into the same message, then a reply that tells the requester.

The outcome replaces the status message instead of arriving as a new one, so a delivery
retried after a crash or a Discord error edits the same message again: it never shows
up twice. Each step is noted in the ledger as it is done (outcome shown, requester
told, delivery closed), so a retry goes on from the step that failed.

When Discord refuses for good (the channel deleted, access lost, the bot removed) the
delivery is closed undelivered and its images go back to the quota; when the message
alone was deleted, the outcome is posted anew. Anything else is retried with a backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator

import discord

from bot import metrics
from bot.buttons import result_view, status_view
from bot.delivery.drafts import Draft, NamedFile
from bot.delivery.errors import Verdict, classify, describe, is_expected
from bot.delivery.pacing import (
    BACKOFF_CAP,
    INVALID_REQUESTS_PER_MINUTE,
    Backoff,
    BudgetSpent,
    Clock,
    InvalidRequestBudget,
)
from bot.delivery.texts import result_embed, status_text
from bot.delivery.writer import MessageWriter
from bot.i18n import failure_text, t
from bot.ledger import Delivery, Ledger, Shown
from core.images import fit_to_limit
from core.jobs import Job, JobState
from core.store import JobStore

log = logging.getLogger(__name__)

STATUS_EDIT_INTERVAL = 1.5  # Discord allows about 5 edits per 5 s per message
RETRY_SECONDS = 10.0  # how often undelivered jobs are retried
ORPHAN_SECONDS = 3600.0  # a ledger row whose job never reached the store
SMALLEST_LIMIT = 8 * 1024

# Called once a job's outcome is delivered and its delivery closed; must not raise.
FinishHook = Callable[[Delivery, Job], Awaitable[None]]
# Called with the job's id once its delivery is closed without its pictures shown.
ReleaseHook = Callable[[str], Awaitable[None]]


class Deliverer:
    def __init__(
        self,
        client: discord.Client,
        store: JobStore,
        ledger: Ledger,
        *,
        retry_seconds: float = RETRY_SECONDS,
        after_finish: FinishHook | None = None,
        after_release: ReleaseHook | None = None,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
        rng: Callable[[], float] = random.random,
        upscale_sizes: frozenset[tuple[int, int]] = frozenset(),
    ) -> None:
        self._store, self._ledger = store, ledger
        self._upscale_sizes = upscale_sizes  # a result offers U buttons for these sizes
        self._retry_seconds = retry_seconds
        self._after_finish, self._after_release = after_finish, after_release
        self._clock, self._wall = clock, wall
        self._backoff = Backoff(retry_seconds, clock, rng, BACKOFF_CAP)
        self._budget = InvalidRequestBudget(INVALID_REQUESTS_PER_MINUTE, clock)
        self._writer = MessageWriter(client, ledger, self._budget, wall)
        self._last_edit: dict[str, float] = {}
        self._previewed: dict[str, int] = {}  # job id -> step of the preview on show
        self._dirty: set[str] = set()
        self._announcing: set[str] = set()
        self._lock = asyncio.Lock()  # one sync at a time: the cog and the loop both call it

    async def run(self) -> None:
        """Follows the store's events forever, from where the last run stopped."""
        cursor = await self._ledger.cursor()
        if cursor is None:
            cursor = await self._store.head()
            await self._ledger.save_cursor(cursor)
        await self.sweep()
        last_sweep = time.monotonic()
        while True:
            events = await self._store.events(cursor, wait=0.5)
            for job_id in dict.fromkeys(event.job_id for event in events):
                await self.sync(job_id)
            if events:
                cursor = events[-1].seq
                await self._ledger.save_cursor(cursor)
            for job_id in list(self._dirty):
                await self.sync(job_id)
            if time.monotonic() - last_sweep > self._retry_seconds:
                await self.sweep()
                last_sweep = time.monotonic()

    async def sweep(self) -> None:
        """Retries every delivery not made yet (after a restart or a Discord failure)."""
        for delivery in await self._ledger.pending():
            await self.sync(delivery.job_id)

    async def sync(self, job_id: str) -> None:
        """Brings the job's message up to date with the job; never raises. Does nothing
        while the job's delivery backs off after a failure, or while Discord refused too
        many requests in the last minute."""
        async with self._lock:
            if not self._backoff.due(job_id) or self._budget.spent:
                return
            try:
                await self._sync(job_id)
            except BudgetSpent:
                return  # tried again once the budget refills
            except Exception as error:
                self._failed(job_id, error)
            else:
                self._backoff.clear(job_id)

    async def status_text(self, job: Job) -> str:
        """Where the job stands, in its requester's language."""
        return await status_text(self._store, job)

    @contextlib.contextmanager
    def announcing(self, job_id: str) -> Iterator[None]:
        """Marks a job whose command is still putting up its status message."""
        self._announcing.add(job_id)
        try:
            yield
        finally:
            self._announcing.discard(job_id)

    def _failed(self, job_id: str, error: Exception) -> None:
        delay = self._backoff.failed(job_id)
        metrics.DELIVERY_RETRIES.inc()
        if not is_expected(error) and self._backoff.failures(job_id) == 1:
            log.exception(
                "Could not update the message of job %s; retrying in %.0f s", job_id, delay
            )
        else:
            log.warning(
                "Could not update the message of job %s (%s); retrying in %.0f s",
                job_id,
                describe(error),
                delay,
            )

    async def _sync(self, job_id: str, *, again: bool = True) -> None:
        delivery = await self._ledger.get(job_id)
        if delivery is None or delivery.delivered_at is not None:
            return
        job = await self._store.get(job_id)
        if job is None:
            if self._wall() - delivery.created_at > ORPHAN_SECONDS:
                # Never queued (the bot stopped in between), or purged past the retention.
                log.warning("Job %s is not in the queue; closing its delivery", job_id)
                await self._close(delivery, job_id, usage=None)
            return
        if delivery.status_message_id is None and job_id in self._announcing:
            return  # the command is showing its status right now; it syncs after
        try:
            if job.state.finished:
                await self._finish(delivery, job)
            else:
                await self._show_status(delivery, job)
        except discord.HTTPException as error:
            verdict = classify(error)
            if verdict.permanent:
                await self._give_up(delivery, job, error)
                self._budget.note(error)  # after: what the answer taught is not lost
            elif verdict is Verdict.MESSAGE_GONE:
                await self._ledger.message_lost(job_id, self._wall())
                self._budget.note(error)
                log.info(
                    "The message of job %s was deleted; its outcome will be posted anew", job_id
                )
                if again and job.state.finished:
                    await self._sync(job_id, again=False)
            else:
                raise

    async def _show_status(self, delivery: Delivery, job: Job) -> None:
        if delivery.status_message_id is None and delivery.lost_at is not None:
            self._dirty.discard(job.id)
            return  # deleted by someone: the outcome is posted anew when there is one
        since = self._clock() - self._last_edit.get(job.id, -STATUS_EDIT_INTERVAL)
        if since < STATUS_EDIT_INTERVAL:
            self._dirty.add(job.id)
            return
        self._dirty.discard(job.id)
        self._last_edit[job.id] = self._clock()
        files = await self._preview(job) if delivery.status_message_id is not None else None
        draft = Draft(await self.status_text(job), status_view(job), files=files)
        await self._writer.put(delivery, draft)

    async def _preview(self, job: Job) -> tuple[NamedFile, ...] | None:
        """The attachment change for a status edit: a newer preview while running, none
        once the job is back in the queue (its worker was lost), else no change."""
        if job.state is not JobState.RUNNING:
            shown = self._previewed.pop(job.id, None)
            return None if shown is None else ()
        preview = await self._store.preview(job.id)
        if preview is None or preview.step <= self._previewed.get(job.id, -1):
            return None
        self._previewed[job.id] = preview.step
        return ((f"preview-{job.id}.webp", preview.image),)

    async def _finish(self, delivery: Delivery, job: Job) -> None:
        if delivery.shown is None:
            delivery = await self._show_outcome(delivery, job)
        if delivery.shown is Shown.RESULT and delivery.notified_at is None:
            await self._notify(delivery)
        delivered = delivery.shown is Shown.RESULT or job.state is not JobState.DONE
        await self._close(delivery, job.id, usage=job if delivery.shown is Shown.RESULT else None)
        if not delivered:
            await self._release(job.id)  # done, but its pictures were no longer kept
        elif self._after_finish is not None:  # moderation: settle the quota, post to audit
            await self._after_finish(delivery, job)
        metrics.DELIVERIES.labels(job.state.value).inc()

    async def _show_outcome(self, delivery: Delivery, job: Job) -> Delivery:
        if job.state is JobState.DONE:
            result = await self._store.result(job.id)
            if result is not None:
                delivery = await self._show_result(delivery, job, result.grid_png)
                shown = Shown.RESULT
            else:
                # Kept for a limited time only (the store's retention): say so, once.
                gone = Draft(t("result_gone", job.locale), None, files=())
                delivery = await self._writer.put(delivery, gone)
                shown = Shown.OUTCOME
        else:
            if job.state is JobState.CANCELED:
                text = t("canceled", job.locale)
            else:
                text = failure_text(job.error, job.locale)
            delivery = await self._writer.put(delivery, Draft(text, None, files=()))
            shown = Shown.OUTCOME
        await self._ledger.mark_shown(job.id, shown)
        return dataclasses.replace(delivery, shown=shown)

    async def _show_result(self, delivery: Delivery, job: Job, grid_png: bytes) -> Delivery:
        limit = delivery.attachment_limit
        while True:
            data, ext = await asyncio.to_thread(fit_to_limit, grid_png, limit)
            name = f"imagine-{job.id}.{ext}"
            draft = Draft(
                f"<@{job.user_id}>",
                result_view(job, self._upscale_sizes),
                embed=result_embed(job, name),
                files=((name, data),),
                mention=job.user_id,
            )
            try:
                return await self._writer.put(delivery, draft)
            except discord.HTTPException as error:
                # The server's limit can shrink (a lost boost) after the command came in.
                if classify(error) is not Verdict.TOO_LARGE or limit <= SMALLEST_LIMIT:
                    raise
                limit = max(SMALLEST_LIMIT, min(limit, len(data)) // 2)
                await self._ledger.set_attachment_limit(job.id, limit)  # retries start here
                log.info("Upload of job %s too large; trying %d bytes", job.id, limit)

    async def _notify(self, delivery: Delivery) -> None:
        try:
            await self._writer.notify(delivery)
        except discord.HTTPException as error:
            verdict = classify(error)
            if not (verdict.permanent or verdict is Verdict.MESSAGE_GONE):
                raise
            log.warning(
                "Could not tell the requester of job %s that it is ready (%s)",
                delivery.job_id,
                describe(error),
            )
            await self._ledger.mark_notified(delivery.job_id, self._wall())  # gave up
            self._budget.note(error)

    async def _give_up(self, delivery: Delivery, job: Job, error: discord.HTTPException) -> None:
        """Nothing can be posted where the job was asked for: close its delivery without
        usage, which gives its images back to the quota, and stop the job if unfinished."""
        log.warning(
            "Closing the delivery of job %s undelivered: Discord answers %s in channel %s",
            job.id,
            describe(error),
            delivery.channel_id,
        )
        if not job.state.finished:
            await self._store.cancel(job.id)  # nobody could be shown what it makes
        await self._close(delivery, job.id, usage=None)
        await self._release(job.id)

    async def _close(self, delivery: Delivery, job_id: str, *, usage: Job | None) -> None:
        await self._ledger.mark_delivered(job_id, self._wall(), usage=usage)
        self._dirty.discard(job_id)
        self._last_edit.pop(job_id, None)
        self._previewed.pop(job_id, None)

    async def _release(self, job_id: str) -> None:
        if self._after_release is None:
            return
        try:
            await self._after_release(job_id)
        except Exception:
            log.exception("Could not give back the images of job %s", job_id)
