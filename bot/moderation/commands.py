"""/imagine-admin: a server's moderation, for members with Manage Server. Every answer is
private, and every command reads and changes the server it is used in, and no other.
The commands read and change through `Moderation` (bot.moderation), never its tables."""

# No `from __future__ import annotations`: discord.py reads these annotations at runtime.

import io
import zoneinfo

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import ImagineBot
from bot.i18n import t
from bot.moderation import charts, texts
from bot.moderation import defaults as presets  # not to be confused with the command
from bot.moderation import words as wordlist
from bot.moderation.audit import NO_PINGS
from bot.moderation.settings import Reset, Tier
from bot.options import SAMPLER_CHOICES, model_names, offer_models, option_help
from core.jobs import (
    MAX_COUNT,
    MAX_GUIDANCE,
    MAX_STEPS,
    MIN_COUNT,
    MIN_GUIDANCE,
    MIN_STEPS,
    SAMPLERS,
    InvalidRequest,
)

Interaction = discord.Interaction
MAX_SIDE = 4096
Days = app_commands.Range[int, 1, 366]


@app_commands.default_permissions(manage_guild=True)  # what Discord shows: a hint only
@app_commands.guild_only()
class Admin(
    commands.GroupCog,
    group_name="imagine-admin",
    group_description="Limits, banned words, blocks and usage of image making in this server",
):
    tier = app_commands.Group(name="tier", description="Higher limits for members with a role")
    exempt = app_commands.Group(name="exempt", description="Roles no limit or cap applies to")
    words = app_commands.Group(name="words", description="Words a prompt may not contain")

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        self.moderation = bot.moderation
        offer_models(self.defaults, bot.settings.models)

    async def interaction_check(self, interaction: Interaction) -> bool:
        # What we enforce, whatever a server's admins set for the command in Discord:
        # Manage Server as Discord computed it for this member in this channel.
        return interaction.guild_id is not None and interaction.permissions.manage_guild

    @app_commands.command(
        description="Show this server's limits, caps, defaults, roles and audit channel"
    )
    async def settings(self, interaction: Interaction) -> None:
        await self._show(interaction)

    @app_commands.command(description="Daily images, cooldown and waiting jobs (0 = no limit)")
    @app_commands.describe(
        per_member="Images one member may make per day",
        per_server="Images the whole server may make per day",
        cooldown="Seconds a member waits between two requests",
        waiting="Jobs one member may have waiting at once",
        day="When a day's count starts again",
        timezone="Time zone of midnight, for calendar days (like Europe/Berlin)",
    )
    @app_commands.choices(
        day=[
            app_commands.Choice(name="Rolling: the last 24 hours", value=Reset.ROLLING.value),
            app_commands.Choice(name="Calendar: from midnight", value=Reset.CALENDAR.value),
        ]
    )
    async def limits(
        self,
        interaction: Interaction,
        per_member: app_commands.Range[int, 0, 100_000] | None = None,
        per_server: app_commands.Range[int, 0, 10_000_000] | None = None,
        cooldown: app_commands.Range[int, 0, 86_400] | None = None,
        waiting: app_commands.Range[int, 0, 1000] | None = None,
        day: str | None = None,
        timezone: str | None = None,
    ) -> None:
        changes: dict[str, object] = {}
        for name, value in (
            ("user_daily", per_member),
            ("guild_daily", per_server),
            ("cooldown", cooldown),
            ("max_waiting", waiting),
        ):
            if value is not None:
                changes[name] = value or None  # 0: no limit
        if day is not None:
            if day not in set(Reset):  # Discord offers only the choices; a client may not
                await _say(interaction, t("bad_options", _loc(interaction)))
                return
            changes["reset"] = day
        if timezone is not None:
            if not _is_zone(timezone):
                await _say(
                    interaction, t("admin_bad_timezone", _loc(interaction), timezone=timezone[:50])
                )
                return
            changes["timezone"] = timezone
        await self.moderation.change_settings(_gid(interaction), **changes)
        await self._show(interaction, saved=True)

    @limits.autocomplete("timezone")
    async def _zones(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        found = sorted(z for z in zoneinfo.available_timezones() if current.lower() in z.lower())
        return [app_commands.Choice(name=zone, value=zone) for zone in found[:25]]

    @app_commands.command(description="Most steps, images and size one request may ask for")
    @app_commands.describe(
        steps="Most denoising steps (0 = no cap)",
        count="Most images per request (0 = no cap)",
        size="Largest image, as width x height (none = no cap)",
    )
    async def caps(
        self,
        interaction: Interaction,
        steps: app_commands.Range[int, 0, MAX_STEPS] | None = None,
        count: app_commands.Range[int, 0, MAX_COUNT] | None = None,
        size: str | None = None,
    ) -> None:
        changes: dict[str, object] = {}
        if steps is not None:
            changes["max_steps"] = steps or None
        if count is not None:
            changes["max_count"] = count or None
        if size is not None:
            try:
                changes["max_size"] = _size(size)
            except ValueError:
                await _say(interaction, t("admin_bad_size", _loc(interaction)))
                return
        await self.moderation.change_settings(_gid(interaction), **changes)
        await self._show(interaction, saved=True)

    @caps.autocomplete("size")
    async def _sizes(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        offered = [f"{w}x{h}" for w, h in self.bot.settings.sizes] + ["none"]
        return [app_commands.Choice(name=s, value=s) for s in offered if current in s][:25]

    @app_commands.command(description="What /imagine uses for options a member leaves out")
    @app_commands.describe(
        **option_help("count", "steps", "guidance", "size", "sampler", "negative_prompt", "model"),
        reset="Clear every default first: the bot's own apply again",
    )
    @app_commands.choices(sampler=SAMPLER_CHOICES)
    async def defaults(
        self,
        interaction: Interaction,
        count: app_commands.Range[int, MIN_COUNT, MAX_COUNT] | None = None,
        steps: app_commands.Range[int, MIN_STEPS, MAX_STEPS] | None = None,
        guidance: app_commands.Range[float, MIN_GUIDANCE, MAX_GUIDANCE] | None = None,
        size: str | None = None,
        sampler: str | None = None,
        negative_prompt: str | None = None,
        model: str | None = None,
        reset: bool = False,
    ) -> None:
        locale, guild_id = _loc(interaction), _gid(interaction)
        if sampler is not None and sampler not in SAMPLERS:  # Discord offers only the choices
            await _say(interaction, t("bad_options", locale))
            return
        if model is not None and model not in self.bot.settings.models:
            offered = model_names(self.bot.settings.models)
            await _say(interaction, t("bad_model", locale, model=model[:20], offered=offered))
            return
        sizes = self.bot.settings.sizes
        try:
            if size is not None:  # stored as the bot writes it
                size = "x".join(map(str, presets.parse_size(str(size), sizes)))
            wanted = presets.Defaults(
                count, steps, guidance, size, sampler, negative_prompt, model=model
            )
            saved = await self.moderation.set_defaults(
                guild_id, wanted, sizes, lambda: self.bot.tokens, reset=reset
            )
        except InvalidRequest as refused:
            await _say(interaction, t(refused.key, locale, **refused.values))
            return
        await self._show(interaction, saved=saved)

    @defaults.autocomplete("size")
    async def _default_sizes(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        offered = [f"{w}x{h}" for w, h in self.bot.settings.sizes]
        return [app_commands.Choice(name=s, value=s) for s in offered if current in s][:25]

    @tier.command(name="set", description="Limits for members with this role (0 = no limit)")
    @app_commands.describe(
        role="The role",
        per_member="Images per day (empty: as the server)",
        cooldown="Seconds between requests (empty: as the server)",
        waiting="Jobs waiting at once (empty: as the server)",
    )
    async def tier_set(
        self,
        interaction: Interaction,
        role: discord.Role,
        per_member: app_commands.Range[int, 0, 100_000] | None = None,
        cooldown: app_commands.Range[int, 0, 86_400] | None = None,
        waiting: app_commands.Range[int, 0, 1000] | None = None,
    ) -> None:
        await self.moderation.set_tier(
            _gid(interaction), Tier(role.id, per_member, cooldown, waiting)
        )
        await self._show(interaction, saved=True)

    @tier.command(name="remove", description="Members with this role get the server's limits")
    @app_commands.describe(role="The role")
    async def tier_remove(self, interaction: Interaction, role: discord.Role) -> None:
        if not await self.moderation.remove_tier(_gid(interaction), role.id):
            await _say(interaction, t("admin_unchanged", _loc(interaction)))
            return
        await self._show(interaction, saved=True)

    @exempt.command(name="add", description="No limit or cap applies to members with this role")
    @app_commands.describe(role="The role")
    async def exempt_add(self, interaction: Interaction, role: discord.Role) -> None:
        await self._exempt(interaction, role, True)

    @exempt.command(name="remove", description="Limits and caps apply to this role again")
    @app_commands.describe(role="The role")
    async def exempt_remove(self, interaction: Interaction, role: discord.Role) -> None:
        await self._exempt(interaction, role, False)

    async def _exempt(self, interaction: Interaction, role: discord.Role, exempt: bool) -> None:
        if not await self.moderation.set_exempt(_gid(interaction), role.id, exempt):
            await _say(interaction, t("admin_unchanged", _loc(interaction)))
            return
        await self._show(interaction, saved=True)

    @words.command(name="add", description="Ban words or phrases in prompts")
    @app_commands.describe(words="Words or phrases, separated by commas")
    async def words_add(self, interaction: Interaction, words: str) -> None:
        locale, guild_id = _loc(interaction), _gid(interaction)
        wanted = _words_or_none(words)
        if wanted is None:
            await _say(interaction, t("admin_words_none", locale))
            return
        try:
            added = await self.moderation.ban_words(guild_id, wanted)
        except InvalidRequest as refused:
            await _say(interaction, t(refused.key, locale, **refused.values))
            return
        await _say(
            interaction, t("admin_words_added", locale, count=len(added), words=_listed(added))
        )

    @words.command(name="remove", description="Allow words again")
    @app_commands.describe(words="Words or phrases, separated by commas")
    async def words_remove(self, interaction: Interaction, words: str) -> None:
        locale = _loc(interaction)
        wanted = _words_or_none(words)
        if wanted is None:
            await _say(interaction, t("admin_words_none", locale))
            return
        removed = await self.moderation.allow_words(_gid(interaction), wanted)
        await _say(
            interaction,
            t("admin_words_removed", locale, count=len(removed), words=_listed(removed)),
        )

    @words.command(name="list", description="The words this server bans")
    async def words_list(self, interaction: Interaction) -> None:
        locale = _loc(interaction)
        banned = await self.moderation.banned_words(_gid(interaction))
        if not banned:
            await _say(interaction, t("admin_words_empty", locale))
            return
        text = t("admin_words_list", locale, count=len(banned), words=_listed(banned))
        if len(text) <= 2000:
            await _say(interaction, text)
            return
        file = discord.File(io.BytesIO("\n".join(banned).encode()), filename="banned-words.txt")
        await interaction.response.send_message(
            t("admin_words_list", locale, count=len(banned), words="…"), file=file, ephemeral=True
        )

    @app_commands.command(description="Stop a member from making images in this server")
    @app_commands.describe(member="The member")
    async def block(self, interaction: Interaction, member: discord.User) -> None:
        at = interaction.created_at.timestamp()
        done = await self.moderation.block(_gid(interaction), member.id, interaction.user.id, at)
        key = "admin_blocked" if done else "admin_already_blocked"
        await _say(interaction, t(key, _loc(interaction), user=member.mention))

    @app_commands.command(description="Let a blocked member make images again")
    @app_commands.describe(member="The member")
    async def unblock(self, interaction: Interaction, member: discord.User) -> None:
        done = await self.moderation.unblock(_gid(interaction), member.id)
        key = "admin_unblocked" if done else "admin_not_blocked"
        await _say(interaction, t(key, _loc(interaction), user=member.mention))

    @app_commands.command(description="Members blocked in this server")
    async def blocked(self, interaction: Interaction) -> None:
        locale = _loc(interaction)
        found = await self.moderation.blocked(_gid(interaction))
        if not found:
            await _say(interaction, t("admin_blocked_empty", locale))
            return
        users = ", ".join(f"<@{user_id}>" for user_id in found[:100])
        await _say(interaction, t("admin_blocked_list", locale, count=len(found), users=users))

    @app_commands.command(description="Where every job and refused prompt is posted")
    @app_commands.describe(channel="The channel (empty: turn the audit log off)")
    async def audit(
        self, interaction: Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        # A channel of another server never resolves here: discord.py looks it up in
        # this server, and the option is refused.
        channel_id = None if channel is None else channel.id
        await self.moderation.change_settings(_gid(interaction), audit_channel_id=channel_id)
        locale = _loc(interaction)
        if channel is None:
            await _say(interaction, t("admin_audit_off", locale))
        else:
            await _say(interaction, t("admin_audit_set", locale, channel=channel.mention))

    @app_commands.command(description="Images per day and top members, as a chart")
    @app_commands.describe(days="How many days back (today included)")
    async def usage(self, interaction: Interaction, days: Days = 30) -> None:
        locale, guild_id = _loc(interaction), _gid(interaction)
        found, timezone = await self.moderation.usage(guild_id, days)
        labels = [
            (self._name(user_id, rank), n) for rank, (user_id, n, _) in enumerate(found.top, 1)
        ]
        titles = (
            t("chart_per_day", locale, timezone=timezone),
            t("chart_top", locale),
        )
        png = charts.usage_chart(found.days, labels, titles)
        file = discord.File(io.BytesIO(png), filename=f"usage-{days}d.png")
        await interaction.response.send_message(
            texts.usage_text(found, days, locale),
            file=file,
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    @app_commands.command(description="Every job of this server as a CSV file")
    @app_commands.describe(days="How many days back")
    async def export(self, interaction: Interaction, days: Days = 30) -> None:
        data = await self.moderation.export(_gid(interaction), days)
        file = discord.File(io.BytesIO(data), filename=f"usage-{days}d.csv")
        await interaction.response.send_message(
            t("admin_export", _loc(interaction), days=days), file=file, ephemeral=True
        )

    def _name(self, user_id: int, rank: int) -> str:
        user = self.bot.get_user(user_id)  # no members intent: known only if seen lately
        return f"#{rank} {user.display_name}" if user is not None else f"#{rank}"

    async def _show(self, interaction: Interaction, *, saved: bool = False) -> None:
        locale = _loc(interaction)
        settings = self.bot.settings
        found = await self.moderation.overview(_gid(interaction), settings.sizes, settings.models)
        text = texts.settings_text(
            found.server,
            found.tiers,
            found.exempt,
            words=found.words,
            blocked=found.blocked,
            defaults=texts.defaults_text(found.saved, found.used, locale),
            locale=locale,
        )
        if saved:
            text = t("admin_saved", locale) + "\n" + text
        await _say(interaction, text)


async def _say(interaction: Interaction, text: str) -> None:
    await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)


def _gid(interaction: Interaction) -> int:
    assert interaction.guild_id is not None  # guild_only, and checked in interaction_check
    return interaction.guild_id


def _loc(interaction: Interaction) -> str:
    return str(interaction.locale)


def _is_zone(name: str) -> bool:
    """A zone of the time zone database. Checked against its list, not by loading the name:
    ZoneInfo opens the file the name points at, and a folder ("Europe"), a name too long
    for a file, or a data file that is no zone ("zone.tab") raise OSErrors and ValueErrors.
    UTC needs no database (a slim container may have none)."""
    return name == "UTC" or name in zoneinfo.available_timezones()


def _size(text: str) -> str | None:
    """ "WxH" written plainly, or None for no cap; ValueError if it cannot be read."""
    if text.strip().lower() in ("none", "0", ""):
        return None
    width, _, height = text.lower().replace(" ", "").partition("x")
    if not (width.isdecimal() and height.isdecimal() and len(width + height) <= 8):
        raise ValueError(text)
    if not (0 < int(width) <= MAX_SIDE and 0 < int(height) <= MAX_SIDE):
        raise ValueError(text)
    return f"{int(width)}x{int(height)}"


def _words_or_none(text: str) -> list[str] | None:
    return wordlist.parse(text) or None


def _listed(found: list[str]) -> str:
    return ", ".join(f"`{word}`" for word in found) or "-"


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Admin(bot))
