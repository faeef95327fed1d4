"""A server's defaults for /imagine: what a member gets for an option they leave out (an
option they give always wins). Moderators set them; without them the bot's own apply.

Caps bound every default, the server's and the bot's: a default over a cap is refused
when it is set, and when a cap is lowered later the default in use is lowered to it (the
stored value stays, and comes back if the cap is raised again)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.moderation.db import ModerationDb
from bot.moderation.settings import GuildSettings
from core.clip_tokens import CONTEXT_LENGTH, ClipTokenCounter
from core.jobs import (
    DEFAULT_GUIDANCE,
    DEFAULT_STEPS,
    MIN_COUNT,
    MODELS,
    SAMPLERS,
    InvalidRequest,
    JobParams,
    size_list,
)

Size = tuple[int, int]
BOT_SAMPLER = SAMPLERS[0]  # DPM-Solver++: good pictures at 20-25 steps
_T = TypeVar("_T")


@dataclass(frozen=True)
class Defaults:
    """A server's defaults as set; None: the bot's own."""

    count: int | None = None
    steps: int | None = None
    guidance: float | None = None
    size: str | None = None  # "WxH", one of the offered sizes when it was set
    sampler: str | None = None
    negative_prompt: str | None = None
    model: str | None = None  # one of IMAGINE_MODELS when it was set


@dataclass(frozen=True)
class Resolved:
    """The default of every option, as a request that leaves it out gets it."""

    count: int
    steps: int
    guidance: float
    size: Size
    sampler: str
    negative_prompt: str
    model: str


_FIELDS = [field.name for field in dataclasses.fields(Defaults)]


def given(value: _T | None, default: _T) -> _T:
    """The option as given, else its default."""
    return default if value is None else value


async def load(db: ModerationDb, guild_id: int) -> Defaults:
    found = await db.one("SELECT * FROM mod_defaults WHERE guild_id = ?", (guild_id,))
    return Defaults() if found is None else Defaults(**{name: found[name] for name in _FIELDS})


async def save(db: ModerationDb, guild_id: int, changes: Defaults, *, reset: bool) -> None:
    """Sets the defaults `changes` gives; the others stay as they were, or are cleared
    first if `reset`."""
    values = {k: v for k, v in dataclasses.asdict(changes).items() if v is not None}
    async with db.transaction() as tx:
        if reset:
            await tx.execute("DELETE FROM mod_defaults WHERE guild_id = ?", (guild_id,))
        if values:
            await tx.execute(
                "INSERT OR IGNORE INTO mod_defaults (guild_id) VALUES (?)", (guild_id,)
            )
        for name, value in values.items():  # names of Defaults' fields: never user text
            await tx.execute(
                f"UPDATE mod_defaults SET {name} = ? WHERE guild_id = ?", (value, guild_id)
            )


def parse_size(text: str, sizes: tuple[Size, ...]) -> Size:
    """A size as a member or moderator typed it; whether it is offered is checked later."""
    width, _, height = text.lower().partition("x")
    if len(text) > 11 or not (width.strip().isdecimal() and height.strip().isdecimal()):
        raise InvalidRequest("bad_size", size=text[:20], offered=size_list(sizes))
    return int(width), int(height)


def check(
    wanted: Defaults,
    server: GuildSettings,
    sizes: tuple[Size, ...],
    tokens: Callable[[], ClipTokenCounter],
) -> None:
    """Raises InvalidRequest if /imagine would refuse these values, or they are over one
    of the server's caps. `tokens` is asked for only when there is a negative prompt to
    count: until a worker has shared CLIP's vocabulary it refuses, and a default like
    `count` needs none."""
    width, height = sizes[0] if wanted.size is None else parse_size(wanted.size, sizes)
    negative = given(wanted.negative_prompt, "")
    JobParams(
        prompt="-",
        negative_prompt=negative,
        count=given(wanted.count, MIN_COUNT),
        steps=given(wanted.steps, DEFAULT_STEPS),
        guidance=given(wanted.guidance, DEFAULT_GUIDANCE),
        width=width,
        height=height,
        sampler=given(wanted.sampler, BOT_SAMPLER),
    ).validate(sizes)
    if negative and (count := tokens().count(negative)) > CONTEXT_LENGTH:
        raise InvalidRequest("too_many_tokens", tokens=count, limit=CONTEXT_LENGTH)
    if _over(wanted.steps, server.max_steps):
        raise InvalidRequest("admin_default_cap_steps", value=wanted.steps, limit=server.max_steps)
    if _over(wanted.count, server.max_count):
        raise InvalidRequest("admin_default_cap_count", value=wanted.count, limit=server.max_count)
    pixels = server.max_pixels
    if wanted.size is not None and pixels is not None and width * height > pixels:
        raise InvalidRequest(
            "admin_default_cap_size", size=f"{width}x{height}", limit=server.max_size
        )


def resolve(
    saved: Defaults,
    server: GuildSettings,
    sizes: tuple[Size, ...],
    models: tuple[str, ...] = MODELS[:1],
) -> Resolved:
    """The defaults in use: the server's, else the bot's, lowered to the server's caps.
    A model the bot no longer runs (IMAGINE_MODELS changed) gives way to its first."""
    size = sizes[0]
    if saved.size is not None and (found := _offered(saved.size, sizes)) is not None:
        size = found
    pixels = server.max_pixels
    if pixels is not None and size[0] * size[1] > pixels:
        fitting = [s for s in sizes if s[0] * s[1] <= pixels]
        if fitting:  # the largest that fits; none fits: the request meets the cap as is
            size = max(fitting, key=lambda s: s[0] * s[1])
    return Resolved(
        count=_capped(given(saved.count, MIN_COUNT), server.max_count),
        steps=_capped(given(saved.steps, DEFAULT_STEPS), server.max_steps),
        guidance=given(saved.guidance, DEFAULT_GUIDANCE),
        size=size,
        sampler=saved.sampler if saved.sampler in SAMPLERS else BOT_SAMPLER,
        negative_prompt=given(saved.negative_prompt, ""),
        model=saved.model if saved.model in models else models[0],
    )


def _over(value: int | None, cap: int | None) -> bool:
    return value is not None and cap is not None and value > cap


def _capped(value: int, cap: int | None) -> int:
    return value if cap is None else min(value, cap)


def _offered(text: str, sizes: tuple[Size, ...]) -> Size | None:
    """A saved size, if the bot still offers it (IMAGINE_SIZES may have changed)."""
    width, _, height = text.partition("x")
    size = (int(width), int(height)) if width.isdecimal() and height.isdecimal() else None
    return size if size in sizes else None
