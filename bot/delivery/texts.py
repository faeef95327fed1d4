"""What a job's message says: where the job stands, and the embed of its result."""

from __future__ import annotations

import math

import discord

from bot.i18n import t
from core.jobs import MODEL_NAMES, SAMPLER_NAMES, Job, JobState
from core.store import JobStore


async def status_text(store: JobStore, job: Job) -> str:
    """Where the job stands, in its requester's language."""
    if job.state is JobState.RUNNING:
        if not job.total_steps:
            return t("starting", job.locale)
        bar = progress_bar(job.step, job.total_steps)
        return t("running", job.locale, step=job.step, total=job.total_steps, bar=bar)
    ahead = await store.position(job.id)
    where = t("queued_next", job.locale) if ahead <= 0 else t("queued", job.locale, ahead=ahead)
    seconds = await seconds_left(store, job)
    if seconds is None:
        return where
    if math.isinf(seconds):
        return f"{where} {t('eta_no_worker', job.locale)}"
    return f"{where} {t('eta', job.locale, eta=duration(seconds, job.locale))}"


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
    embed.add_field(name=t("field_model", locale), value=MODEL_NAMES.get(p.model, p.model))
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
