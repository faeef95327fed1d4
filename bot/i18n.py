"""Every sentence the bot says, by key, in English, Simplified Chinese and Korean; and the
translator that gives Discord the commands' names and descriptions in those languages.

English is the reference: tests/bot/test_i18n.py checks every other language has every
key with the same placeholders.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.locales import ko, zh_cn

MESSAGES: dict[str, dict[str, str]] = {
    "en-US": {
        "empty_prompt": "Your prompt is empty: describe the picture you want.",
        "too_long_chars": "The {name} is longer than {limit} characters.",
        "too_many_tokens": (
            "Your prompt is {tokens} tokens long; the model reads at most {limit}. Shorten it."
        ),
        "bad_text": "The {name} must be text.",
        "control_chars": "The {name} contains control characters; remove them.",
        "bad_range": "{name} must be between {low} and {high}.",
        "bad_size": "{size} is not offered here; pick one of {offered}.",
        "bad_sampler": "{sampler} is not a sampler this bot knows.",
        "queued": "Queued: {ahead} job(s) ahead of yours.",
        "queued_next": "Queued: yours is next.",
        "eta": "Ready in about {eta}.",
        "eta_no_worker": "No worker is online right now; it starts when one is.",
        "seconds": "{n} s",
        "minutes": "{n} min",
        "running": "Drawing: step {step} of {total} {bar}",
        "starting": "Drawing: starting…",
        "failed": "This job failed: {error}",
        "failed_engine_failed": (
            "This job failed: the image generator failed on it. Try again, or change the prompt."
        ),
        "failed_gave_up": (
            "This job failed: its worker stopped too many times while making it. Try again."
        ),
        "canceled": "This job was canceled.",
        "unexpected": "Something went wrong on our side (error id {error_id}). Please try again.",
        "unknown_command": "This command is not known here; it may have been removed.",
        "bad_options": "Some options of this command were not understood; please try again.",
        "guild_only": "This command works in servers only.",
        "not_allowed": "You are not allowed to do that here.",
        "queue_title": "The queue",
        "queue_mine": "Your jobs",
        "queue_none": "You have no jobs waiting.",
        "queue_here": "Waiting or running in this server",
        "queue_workers": "Workers online",
        "queue_speed": "Speed",
        "queue_speed_value": "{seconds} s per image per step",
        "queue_running": "Drawing {bar} · {prompt}",
        "queue_waiting": "{ahead} ahead, about {eta} · {prompt}",
        "history_title": "Your last pictures",
        "history_none": "You have no finished jobs here yet.",
        "state_done": "Done",
        "state_failed": "Failed",
        "state_canceled": "Canceled",
        "job_gone": "That job is no longer here.",
        "image_too_big": "That image is larger than {limit} MB.",
        "image_too_many_pixels": "That image has more than {limit} pixels.",
        "image_unreadable": "That file is not a PNG, JPEG or WebP image I can read.",
        "image_download": "I could not download that image; please try again.",
        "not_yours": "Only the member who asked for this, or a moderator, can do that.",
        "button_cancel": "Cancel",
        "field_seed": "Seed",
        "field_steps": "Steps",
        "field_guidance": "Guidance",
        "field_size": "Size",
        "field_time": "Time",
        "field_negative": "Negative prompt",
    },
    "zh-CN": zh_cn.MESSAGES,
    "ko": ko.MESSAGES,
}
DEFAULT_LOCALE = "en-US"
COMMANDS: dict[str, dict[str, str]] = {"zh-CN": zh_cn.COMMANDS, "ko": ko.COMMANDS}


def t(key: str, locale: str = DEFAULT_LOCALE, **values: object) -> str:
    """The message `key` in `locale` (English if that language lacks it), filled in."""
    table = MESSAGES.get(locale, MESSAGES[DEFAULT_LOCALE])
    template = table.get(key) or MESSAGES[DEFAULT_LOCALE][key]
    return template.format(**values)


def failure_text(error: str | None, locale: str) -> str:
    """Why a job failed: a known reason in the member's language, else the text as is."""
    key = f"failed_{error}"
    if key in MESSAGES[DEFAULT_LOCALE]:
        return t(key, locale)
    return t("failed", locale, error=error or "?")


class CommandTranslator(app_commands.Translator):
    """Gives Discord each command's name, description and options per language; the
    member's own Discord language then picks what they see."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        return COMMANDS.get(locale.value, {}).get(string.message)
