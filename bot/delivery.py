"""Turns job changes into Discord messages: status edits while a job waits and runs, then
its result (or its failure) edited into the same message, exactly once.

The result replaces the status message instead of arriving as a new one, so a delivery
retried after a crash or a Discord error edits the same message again: it can never
show up twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import discord

from bot import metrics
from bot.buttons import result_view, status_view
from bot.i18n import failure_text, t
from bot.ledger import Delivery, Ledger
from core.images import fit_to_limit
from core.jobs import SAMPLER_NAMES, Job, JobState
from core.store import JobStore

log = logging.getLogger(__name__)

STATUS_EDIT_INTERVAL = 1.5  # Discord allows about 5 edits per 5 s per message
RETRY_SECONDS = 10.0  # how often undelivered jobs are retried
ORPHAN_SECONDS = 3600.0  # a ledger row whose job never reached the store
EXPIRED_TOKEN = 50027
TOO_LARGE = 413
SMALLEST_LIMIT = 8 * 1024


# Called once a job's outcome is delivered and its delivery closed; must not raise.
FinishHook = Callable[[Delivery, Job], Awaitable[None]]


class Deliverer:
    def __init__(
        self,
        client: discord.Client,
        store: JobStore,
        ledger: Ledger,
        *,
        retry_seconds: float = RETRY_SECONDS,
        after_finish: FinishHook | None = None,
    ) -> None:
        self._client = client
        self._retry_seconds = retry_seconds
        self._after_finish = after_finish
        self._store = store
        self._ledger = ledger
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
        """Brings the job's message up to date with the job; never raises."""
        async with self._lock:
            try:
                await self._sync(job_id)
            except Exception:
                log.exception("Could not update the message of job %s; will retry", job_id)
                metrics.DELIVERY_RETRIES.inc()

    async def _sync(self, job_id: str) -> None:
        delivery = await self._ledger.get(job_id)
        if delivery is None or delivery.delivered_at is not None:
            return
        job = await self._store.get(job_id)
        if job is None:
            if time.time() - delivery.created_at > ORPHAN_SECONDS:
                log.warning("Job %s never reached the queue; closing its delivery", job_id)
                await self._ledger.mark_delivered(job_id, time.time())
            return
        if delivery.status_message_id is None:
            if job_id in self._announcing:
                return  # the command is showing its status right now; it syncs after
            delivery = await self._recover_status_message(delivery, job)
        if job.state.finished:
            await self._finish(delivery, job)
        else:
            await self._show_status(delivery, job)

    async def status_text(self, job: Job) -> str:
        """Where the job stands, in its requester's language."""
        if job.state is JobState.RUNNING:
            if not job.total_steps:
                return t("starting", job.locale)
            bar = progress_bar(job.step, job.total_steps)
            return t("running", job.locale, step=job.step, total=job.total_steps, bar=bar)
        ahead = await self._store.position(job.id)
        where = t("queued_next", job.locale) if ahead <= 0 else t("queued", job.locale, ahead=ahead)
        seconds = await seconds_left(self._store, job)
        if seconds is None:
            return where
        if math.isinf(seconds):
            return f"{where} {t('eta_no_worker', job.locale)}"
        return f"{where} {t('eta', job.locale, eta=duration(seconds, job.locale))}"

    @contextlib.contextmanager
    def announcing(self, job_id: str) -> Iterator[None]:
        """Marks a job whose command is still putting up its status message."""
        self._announcing.add(job_id)
        try:
            yield
        finally:
            self._announcing.discard(job_id)

    async def _recover_status_message(self, delivery: Delivery, job: Job) -> Delivery:
        """The command that queued this job stopped (the bot was stopped or crashed) before
        it noted its status message: take over the deferred response while its token
        lives, else post a new message with the bot token."""
        content, view = await self.status_text(job), status_view(job)
        if time.time() < delivery.token_expires:
            webhook = self._webhook(delivery)
            # "@original" is the route's name for the response message; the id is unknown.
            message = await webhook.edit_message("@original", content=content, view=view)  # type: ignore[call-overload]
        else:
            channel = self._client.get_partial_messageable(delivery.channel_id)
            message = await channel.send(content, view=view)
        await self._ledger.set_status_message(job.id, message.id)
        self._last_edit[job.id] = time.monotonic()
        return dataclasses.replace(delivery, status_message_id=message.id)

    def _webhook(self, delivery: Delivery) -> discord.Webhook:
        return discord.Webhook.partial(
            delivery.application_id, delivery.interaction_token, client=self._client
        )

    async def _show_status(self, delivery: Delivery, job: Job) -> None:
        since = time.monotonic() - self._last_edit.get(job.id, 0.0)
        if since < STATUS_EDIT_INTERVAL:
            self._dirty.add(job.id)
            return
        self._dirty.discard(job.id)
        self._last_edit[job.id] = time.monotonic()
        content, view = await self.status_text(job), status_view(job)
        await self._edit(delivery, content=content, view=view, **await self._preview(job))

    async def _preview(self, job: Job) -> dict[str, Any]:
        """The attachment change for a status edit: a newer preview while running, none
        once the job is back in the queue (its worker was lost), else no change."""
        if job.state is not JobState.RUNNING:
            shown = self._previewed.pop(job.id, None)
            return {} if shown is None else {"attachments": []}
        preview = await self._store.preview(job.id)
        if preview is None or preview.step <= self._previewed.get(job.id, -1):
            return {}
        self._previewed[job.id] = preview.step
        name = f"preview-{job.id}.webp"
        return {"attachments": [discord.File(io.BytesIO(preview.image), filename=name)]}

    async def _finish(self, delivery: Delivery, job: Job) -> None:
        if job.state is JobState.DONE:
            await self._deliver_result(delivery, job)
        else:
            if job.state is JobState.CANCELED:
                text = t("canceled", job.locale)
            else:
                text = failure_text(job.error, job.locale)
            await self._edit(delivery, content=text, view=None, attachments=[])  # no preview
        usage = job if job.state is JobState.DONE else None
        await self._ledger.mark_delivered(job.id, time.time(), usage=usage)
        if self._after_finish is not None:  # moderation: settle the quota, post to audit
            await self._after_finish(delivery, job)
        metrics.DELIVERIES.labels(job.state.value).inc()
        self._dirty.discard(job.id)
        self._last_edit.pop(job.id, None)
        self._previewed.pop(job.id, None)

    async def _deliver_result(self, delivery: Delivery, job: Job) -> None:
        result = await self._store.result(job.id)
        if result is None:
            raise RuntimeError(f"job {job.id} is done but has no result")
        limit = delivery.attachment_limit
        while True:
            data, ext = await asyncio.to_thread(fit_to_limit, result.grid_png, limit)
            name = f"imagine-{job.id}.{ext}"
            try:
                await self._edit(
                    delivery,
                    content=f"<@{job.user_id}>",
                    embed=result_embed(job, name),
                    view=result_view(job),
                    attachments=[discord.File(io.BytesIO(data), filename=name)],
                )
                return
            except discord.HTTPException as error:
                # The server's limit can shrink (a lost boost) after the command came in.
                if error.status != TOO_LARGE or limit <= SMALLEST_LIMIT:
                    raise
                limit = max(SMALLEST_LIMIT, min(limit, len(data)) // 2)
                await self._ledger.set_attachment_limit(job.id, limit)  # retries start here
                log.info("Upload of job %s too large; trying %d bytes", job.id, limit)

    async def _edit(self, delivery: Delivery, **fields: Any) -> None:
        """Edits the job's message through the interaction while its token lives, else
        with the bot's own token, which never expires."""
        assert delivery.status_message_id is not None
        if time.time() < delivery.token_expires:
            webhook = self._webhook(delivery)
            try:
                await webhook.edit_message(delivery.status_message_id, **fields)
                return
            except discord.HTTPException as error:
                if error.code != EXPIRED_TOKEN:
                    raise
                log.info(
                    "Interaction token of job %s expired; using the bot token", delivery.job_id
                )
        channel = self._client.get_partial_messageable(delivery.channel_id)
        await channel.get_partial_message(delivery.status_message_id).edit(**fields)


async def seconds_left(store: JobStore, job: Job) -> float | None:
    """When a queued job should be done: the work ahead of it and its own, at the speed
    workers measured on recent jobs, shared among the workers online. None before any
    job was measured; infinity while no worker is online."""
    stats = await store.stats()
    if stats.workers == 0:
        return math.inf
    if stats.seconds_per_step is None:
        return None
    work = await store.work_ahead(job.id) + job.params.count * job.params.steps
    return work * stats.seconds_per_step / stats.workers


def duration(seconds: float, locale: str) -> str:
    if seconds < 90:
        return t("seconds", locale, n=max(1, round(seconds)))
    return t("minutes", locale, n=round(seconds / 60))


def progress_bar(step: int, total: int, width: int = 12) -> str:
    filled = round(width * step / total) if total else 0
    return "▰" * filled + "▱" * (width - filled)


def result_embed(job: Job, filename: str) -> discord.Embed:
    p, locale = job.params, job.locale
    embed = discord.Embed(description=p.prompt[:4000])
    if p.negative_prompt:
        embed.add_field(
            name=t("field_negative", locale), value=p.negative_prompt[:1000], inline=False
        )
    embed.add_field(name=t("field_seed", locale), value=str(p.seed))
    embed.add_field(
        name=t("field_steps", locale),
        value=f"{p.steps} ({SAMPLER_NAMES.get(p.sampler, p.sampler)})",
    )
    embed.add_field(name=t("field_guidance", locale), value=f"{p.guidance:g}")
    embed.add_field(name=t("field_size", locale), value=p.size)
    embed.add_field(name=t("field_time", locale), value=f"{job.gpu_seconds:.1f} s")
    embed.set_image(url=f"attachment://{filename}")
    return embed
