"""Putting a job in the queue for an interaction: the slash command and the buttons that
make new jobs (reroll, variations) share this path."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord

from bot.buttons import status_view
from bot.ledger import Delivery
from core.jobs import Job, JobParams, NewJob

if TYPE_CHECKING:
    from bot.client import ImagineBot

TOKEN_LIFETIME = 15 * 60.0
TOKEN_MARGIN = 60.0  # stop using the interaction token a minute early: edits take time

# Fetches and checks a member's upload: the bytes of the job's source PNG, or
# InvalidRequest saying what is wrong with it.
FetchSource = Callable[[], Awaitable[bytes]]


async def submit(
    bot: ImagineBot,
    interaction: discord.Interaction,
    params: JobParams,
    *,
    source_png: bytes | None = None,
    fetch_source: FetchSource | None = None,
) -> Job:
    """Admits the request, then fetches its upload (if any), then defers the interaction,
    queues the job and shows its status there. A refusal (blocked member, banned word,
    cap, quota, a bad upload) raises InvalidRequest before the interaction is answered,
    so it can be answered privately."""
    job_id = str(interaction.id)
    await bot.moderation.admit(interaction, params)  # reserves its images, or refuses
    if fetch_source is not None:
        # Only now: a member who may not ask makes the bot download and decode nothing.
        source_png = await _fetched(bot, job_id, fetch_source)
    assert interaction.guild_id is not None  # admission refuses requests from outside servers
    assert interaction.channel_id is not None
    locale = str(interaction.locale)
    new_job = NewJob(
        id=job_id,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        user_id=interaction.user.id,
        params=params,
        locale=locale,
        source_png=source_png,
    )
    with bot.deliverer.announcing(job_id):
        job = await _enqueue(bot, interaction, new_job)
        message = await interaction.edit_original_response(
            content=await bot.deliverer.status_text(job), view=status_view(job)
        )
        await bot.ledger.set_status_message(job_id, message.id)
    await bot.deliverer.sync(job_id)  # it may have finished meanwhile
    return job


async def _fetched(bot: ImagineBot, job_id: str, fetch_source: FetchSource) -> bytes:
    """The upload of an admitted job; the images admission reserved are given back if it
    cannot be fetched or read (the cooldown admission started stays: the bot did fetch)."""
    try:
        return await fetch_source()
    except BaseException:
        await bot.moderation.release(job_id)
        raise


async def _enqueue(bot: ImagineBot, interaction: discord.Interaction, new_job: NewJob) -> Job:
    """Defers, notes the delivery and queues the job; the images admission reserved are
    given back if the job never reached the queue."""
    try:
        await interaction.response.defer(thinking=True)
        # The delivery is noted before the job exists, so no job can finish unseen; if the
        # bot stops before the status message is noted, the deliverer takes over.
        await bot.ledger.add(_delivery(interaction, new_job.id, new_job.locale))
        return await bot.store.enqueue(new_job)
    except BaseException:
        await bot.moderation.release(new_job.id)
        raise


def _delivery(interaction: discord.Interaction, job_id: str, locale: str) -> Delivery:
    assert interaction.guild_id is not None
    assert interaction.channel_id is not None
    created = interaction.created_at.timestamp()
    return Delivery(
        job_id=job_id,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        user_id=interaction.user.id,
        locale=locale,
        application_id=interaction.application_id,
        interaction_token=interaction.token,
        token_expires=created + TOKEN_LIFETIME - TOKEN_MARGIN,
        attachment_limit=interaction.filesize_limit,
        status_message_id=None,
        delivered_at=None,
        created_at=time.time(),
    )
