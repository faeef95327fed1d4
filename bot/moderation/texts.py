"""Moderation's answers as text, in the reader's language: a server's settings, a
member's quota, a usage summary."""

from __future__ import annotations

import discord

from bot.i18n import t
from bot.moderation.defaults import Defaults, Resolved
from bot.moderation.quotas import Standing, relative_time
from bot.moderation.reports import Usage
from bot.moderation.settings import GuildSettings, Reset, Tier
from core.jobs import MODEL_NAMES, SAMPLER_NAMES


def settings_text(
    server: GuildSettings,
    tiers: list[Tier],
    exempt: list[int],
    *,
    defaults: str,
    words: int,
    blocked: int,
    locale: str,
) -> str:
    def limit(value: float | None) -> str:
        return t("admin_no_limit", locale) if value is None else f"{value:g}"

    return t(
        "admin_settings",
        locale,
        user_daily=limit(server.user_daily),
        guild_daily=limit(server.guild_daily),
        day=day_text(server, locale),
        cooldown=seconds(server.cooldown, locale),
        waiting=limit(server.max_waiting),
        steps=limit(server.max_steps),
        count=limit(server.max_count),
        size=server.max_size or t("admin_no_limit", locale),
        defaults=defaults,
        tiers="; ".join(tier_text(tier, locale) for tier in tiers) or "-",
        exempt=", ".join(f"<@&{role}>" for role in exempt) or "-",
        words=words,
        blocked=blocked,
        audit=f"<#{server.audit_channel_id}>" if server.audit_channel_id else "-",
    )


def defaults_text(saved: Defaults, used: Resolved, locale: str) -> str:
    """The defaults a server set, as in use: one lowered by a cap says so."""
    size = f"{used.size[0]}x{used.size[1]}"
    shown = [
        (saved.count, used.count, t("admin_default_count", locale, count=used.count)),
        (saved.steps, used.steps, t("admin_default_steps", locale, steps=used.steps)),
        (
            saved.guidance,
            used.guidance,
            t("admin_default_guidance", locale, guidance=f"{used.guidance:g}"),
        ),
        (saved.size, size, t("admin_default_size", locale, size=size)),
        (saved.sampler, used.sampler, SAMPLER_NAMES.get(used.sampler, used.sampler)),
        (saved.model, used.model, MODEL_NAMES.get(used.model, used.model)),
    ]
    parts = [
        text if value == in_use else text + " " + t("admin_default_lowered", locale, value=value)
        for value, in_use, text in shown
        if value is not None
    ]
    if saved.negative_prompt is not None:
        negative = discord.utils.escape_markdown(saved.negative_prompt[:300])
        parts.append(t("admin_default_negative", locale, text=negative))
    return " · ".join(parts) or t("admin_defaults_none", locale)


def seconds(value: float | None, locale: str) -> str:
    if value is None:
        return t("admin_no_limit", locale)
    return t("admin_seconds", locale, seconds=f"{value:g}")


def day_text(server: GuildSettings, locale: str) -> str:
    if server.reset is Reset.ROLLING:
        return t("admin_day_rolling", locale)
    return t("admin_day_calendar", locale, timezone=server.timezone)


def tier_text(tier: Tier, locale: str) -> str:
    def value(number: float | None) -> str:
        if number is None:
            return t("admin_as_server", locale)
        return t("admin_no_limit", locale) if number == 0 else f"{number:g}"

    cooldown = value(tier.cooldown) if not tier.cooldown else seconds(tier.cooldown, locale)
    return t(
        "admin_tier",
        locale,
        role=f"<@&{tier.role_id}>",
        user_daily=value(tier.user_daily),
        cooldown=cooldown,
        waiting=value(tier.max_waiting),
    )


def standing_text(key: str, standing: Standing, locale: str) -> str:
    """`key`_limited or `key`_unlimited, then when images free up, if any are used."""
    if standing.limit is None:
        text = t(f"{key}_unlimited", locale, used=standing.used)
    else:
        text = t(
            f"{key}_limited", locale, used=standing.used, limit=standing.limit, left=standing.left
        )
    if standing.limit is not None and standing.frees_at is not None:
        text += " " + t("quota_frees", locale, when=relative_time(standing.frees_at))
    return text


def usage_text(usage: Usage, days: int, locale: str) -> str:
    if not usage.jobs:
        return t("admin_usage_empty", locale, days=days)
    lines = [
        t(
            "admin_usage",
            locale,
            days=days,
            images=usage.images,
            jobs=usage.jobs,
            members=usage.members,
        )
    ]
    for rank, (user_id, images, jobs) in enumerate(usage.top, start=1):
        lines.append(
            t("admin_usage_top", locale, rank=rank, user=f"<@{user_id}>", images=images, jobs=jobs)
        )
    return "\n".join(lines)
