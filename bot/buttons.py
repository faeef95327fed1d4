"""The buttons under a job's message. Their custom ids carry the job id, and they are
registered as dynamic items, so buttons on messages from before a restart still work.

A button that makes pictures (reroll, variation, upscale, zoom out, pan) queues a new job
for the member who clicked it, through the same admission as /imagine.

A custom id is only a claim: a client can send any id from any message. So a button acts
only on a job of the server and channel it is clicked in, and delete and cancel only
from the job's own message (the one the ledger noted for it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import io
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot import remix
from bot.errors import reply
from bot.i18n import t
from core import canvas
from core.images import fit_to_limit
from core.jobs import MAX_SEED, InvalidRequest, Job, JobParams

if TYPE_CHECKING:
    from bot.client import ImagineBot

log = logging.getLogger(__name__)

VARIATION_STRENGTH = 0.6  # enough to change the picture, little enough to keep its layout
PAN_ACTIONS = {f"pan_{side}": side for side in remix.PAN_SIDES}
PAN_LABELS = {"left": "⬅️", "right": "➡️", "up": "⬆️", "down": "⬇️"}
ACTIONS = ("full", "vary", "upscale", "zoom", *PAN_ACTIONS, "reroll", "delete", "cancel")
MESSAGE_ACTIONS = ("delete", "cancel")  # they act on the message they are clicked on
# img:<action>:<job>[:<image index>]
_TEMPLATE = re.compile(r"img:(?P<action>[a-z_]+):(?P<job>\d{1,25})(?::(?P<index>[0-3]))?")


class JobButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_TEMPLATE):
    def __init__(self, action: str, job_id: str, index: int | None = None, **style: Any) -> None:
        custom_id = f"img:{action}:{job_id}" + ("" if index is None else f":{index}")
        super().__init__(discord.ui.Button(custom_id=custom_id, **style))
        self.action, self.job_id, self.index = action, job_id, index

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> JobButton:
        index = match["index"]
        return cls(match["action"], match["job"], None if index is None else int(index))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: ImagineBot = interaction.client  # type: ignore[assignment]
        locale = str(interaction.locale)
        job = await bot.store.get(self.job_id)
        # Another server's or channel's job reads as no job at all: a forged id learns
        # nothing about jobs elsewhere.
        if (
            job is None
            or self.action not in ACTIONS
            or not _clicked_where_it_lives(interaction, job)
        ):
            await reply(interaction, t("job_gone", locale))
            return
        if self.action in MESSAGE_ACTIONS and not await _on_its_message(bot, interaction, job):
            await reply(interaction, t("button_elsewhere", locale))
            return
        handler = _HANDLERS[self.action]
        await handler(bot, interaction, job, self.index or 0)


def _clicked_where_it_lives(interaction: discord.Interaction, job: Job) -> bool:
    return interaction.guild_id == job.guild_id and interaction.channel_id == job.channel_id


async def _on_its_message(bot: ImagineBot, interaction: discord.Interaction, job: Job) -> bool:
    """Whether the button was clicked on the job's own status/result message: delete
    removes the clicked message, and cancel must not be reachable from another job's."""
    delivery = await bot.ledger.get(job.id)
    return (
        interaction.message is not None
        and delivery is not None
        and delivery.status_message_id == interaction.message.id
    )


def status_view(job: Job) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    label = t("button_cancel", job.locale)
    view.add_item(JobButton("cancel", job.id, label=label, style=discord.ButtonStyle.danger))
    return view


def result_view(job: Job, upscale_sizes: frozenset[remix.Size] = frozenset()) -> discord.ui.View:
    """Discord shows at most 5 rows of 5 buttons: one row each for full size, variations
    and upscales (U only where the bot makes that 2x size), one for zoom out and the pans
    (single images only), one for reroll and delete."""
    view = discord.ui.View(timeout=None)
    count = job.params.count
    for i in range(count):
        view.add_item(JobButton("full", job.id, i, label=str(i + 1), row=0))
    for i in range(count):
        view.add_item(JobButton("vary", job.id, i, label=f"V{i + 1}", row=1))
    if remix.upscaled_size(job.params) in upscale_sizes:
        for i in range(count):
            view.add_item(JobButton("upscale", job.id, i, label=f"U{i + 1}", row=2))
    if count == 1:
        view.add_item(JobButton("zoom", job.id, label=t("button_zoom_out", job.locale), row=3))
        for action, side in PAN_ACTIONS.items():
            view.add_item(JobButton(action, job.id, label=PAN_LABELS[side], row=3))
    view.add_item(JobButton("reroll", job.id, label="🎲", row=4))
    view.add_item(JobButton("delete", job.id, label="🗑", row=4, style=discord.ButtonStyle.danger))
    return view


def may_manage(interaction: discord.Interaction, job: Job) -> bool:
    """The requester, or someone allowed to manage messages in this channel."""
    return interaction.user.id == job.user_id or interaction.permissions.manage_messages


async def _full_size(
    bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int
) -> None:
    png = await _image(bot, interaction, job, index)
    if png is None:
        return
    data, ext = fit_to_limit(png, interaction.filesize_limit)
    name = f"imagine-{job.id}-{index + 1}.{ext}"
    await interaction.response.send_message(
        file=discord.File(io.BytesIO(data), filename=name), ephemeral=True
    )


async def _image(
    bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int
) -> bytes | None:
    """Image `index` of the job's result as PNG; None (and the clicker told) if gone."""
    result = await bot.store.result(job.id)
    if result is None or index >= len(result.image_pngs):
        await reply(interaction, t("job_gone", str(interaction.locale)))
        return None
    return result.image_pngs[index]


async def _vary(bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int) -> None:
    png = await _image(bot, interaction, job, index)
    if png is None:
        return
    params = dataclasses.replace(
        job.params, count=1, seed=_new_seed(), strength=VARIATION_STRENGTH, masked=False
    )
    await _queue(bot, interaction, params, png)


async def _reroll(bot: ImagineBot, interaction: discord.Interaction, job: Job, _: int) -> None:
    source = None
    if job.params.strength is not None:  # a job that starts from an image needs it again
        source = await bot.store.source(job.id)
        if source is None:
            await reply(interaction, t("job_gone", str(interaction.locale)))
            return
    await _queue(bot, interaction, dataclasses.replace(job.params, seed=_new_seed()), source)


async def _upscale(bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int) -> None:
    locale, settings = str(interaction.locale), bot.settings
    width, height = remix.upscaled_size(job.params)
    if not settings.upscale:
        await reply(interaction, t("upscale_off", locale))
        return
    if (width, height) not in settings.upscale_sizes:
        await reply(interaction, t("upscale_too_big", locale, size=f"{width}x{height}"))
        return
    png = await _image(bot, interaction, job, index)
    if png is not None:
        await _queue(bot, interaction, remix.upscaled(job.params, index), png)


async def _outpaint(
    canvas_of: Callable[[bytes], bytes],
    bot: ImagineBot,
    interaction: discord.Interaction,
    job: Job,
    index: int,
) -> None:
    """Zoom out or pan: a masked job at the image's own size, which must still be one
    the bot makes (an offered size, or an upscale's)."""
    size = (job.params.width, job.params.height)
    if size not in (*bot.settings.sizes, *bot.settings.upscale_sizes):
        await reply(interaction, t("size_gone", str(interaction.locale), size=job.params.size))
        return
    png = await _image(bot, interaction, job, index)
    if png is None:
        return
    source = await asyncio.to_thread(canvas_of, png)
    await _queue(bot, interaction, remix.outpainted(job.params, index), source)


async def _queue(
    bot: ImagineBot,
    interaction: discord.Interaction,
    params: JobParams,
    source_png: bytes | None,
) -> None:
    try:
        await bot.submit(interaction, params, source_png=source_png)  # defers if admitted
    except InvalidRequest as refused:  # moderation said no: tell the clicker only
        await reply(interaction, t(refused.key, str(interaction.locale), **refused.values))


async def _delete(bot: ImagineBot, interaction: discord.Interaction, job: Job, _: int) -> None:
    if not may_manage(interaction, job):
        await reply(interaction, t("not_yours", str(interaction.locale)))
        return
    await interaction.response.defer()
    await bot.store.purge_images(job.id)  # no stored copy outlives the message
    await interaction.delete_original_response()  # the message this button is on
    log.info("Job %s's message deleted by %s", job.id, interaction.user.id)


async def _cancel(bot: ImagineBot, interaction: discord.Interaction, job: Job, _: int) -> None:
    if not may_manage(interaction, job):
        await reply(interaction, t("not_yours", str(interaction.locale)))
        return
    await interaction.response.defer()  # the status message itself shows the outcome
    await bot.store.cancel(job.id)
    await bot.deliverer.sync(job.id)


def _new_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


Handler = Callable[["ImagineBot", discord.Interaction, Job, int], Awaitable[None]]

_HANDLERS: dict[str, Handler] = {
    "full": _full_size,
    "vary": _vary,
    "upscale": _upscale,
    "zoom": functools.partial(
        _outpaint, functools.partial(canvas.zoom_out_png, factor=remix.ZOOM_FACTOR)
    ),
    **{
        action: functools.partial(_outpaint, functools.partial(canvas.pan_png, side=side))
        for action, side in PAN_ACTIONS.items()
    },
    "reroll": _reroll,
    "delete": _delete,
    "cancel": _cancel,
}
