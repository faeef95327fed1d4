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
        "no_vocab": (
            "No worker has shared CLIP's vocabulary with the bot yet, so prompts cannot be"
            " checked: start a worker, or set IMAGINE_VOCAB for the bot."
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
        "result_ready": "{mention} your picture is ready.",
        "result_gone": (
            "This job finished, but its pictures are no longer kept. Ask again to make new ones."
        ),
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
        "button_elsewhere": "That button does not belong to this message.",
        "image_too_big": "That image is larger than {limit} MB.",
        "image_too_many_pixels": "That image has more than {limit} pixels.",
        "image_unreadable": "That file is not a PNG, JPEG or WebP image I can read.",
        "image_download": "I could not download that image; please try again.",
        "image_busy": "I am reading other images right now; please try again in a moment.",
        "not_yours": "Only the member who asked for this, or a moderator, can do that.",
        "button_cancel": "Cancel",
        "field_seed": "Seed",
        "field_steps": "Steps",
        "field_guidance": "Guidance",
        "field_size": "Size",
        "field_time": "Time",
        "field_negative": "Negative prompt",
        "bad_model": "{model} is not a model this bot runs; pick one of {offered}.",
        "mask_needs_image": "A mask says where to redraw an image: attach the image too.",
        "mask_too_big": "That mask is larger than {limit} MB.",
        "mask_too_many_pixels": "That mask has more than {limit} pixels.",
        "mask_unreadable": "The mask is not a PNG, JPEG or WebP image I can read.",
        "upscale_off": "Upscaling is turned off on this bot.",
        "upscale_too_big": (
            "This bot does not make pictures as large as {size}, so this one cannot be upscaled."
        ),
        "size_gone": "This bot no longer makes pictures of {size}, so this one cannot be extended.",
        "button_zoom_out": "Zoom out",
        "field_model": "Model",
        # Moderation (bot/moderation; /quota in bot/cogs/queue.py). Refusals stay neutral: a member
        # learns what to do, never which word or rule of the moderators' they touched.
        "mod_blocked": "You can't make images in this server.",
        "mod_refused": "This prompt can't be used in this server. Please describe something else.",
        "mod_cap_steps": "This server allows at most {limit} steps.",
        "mod_cap_count": "This server allows at most {limit} image(s) per request.",
        "mod_cap_size": "This server allows images up to {size}.",
        "mod_cooldown": "You can ask again {when}.",
        "mod_waiting": (
            "You have {count} job(s) waiting; this server allows {limit} at once."
            " Try again when one is done."
        ),
        "mod_quota_user": (
            "You have {left} of your {limit} images for today left, and this asks for {count}."
            " More free up {when}."
        ),
        "mod_quota_guild": (
            "This server has {left} of its {limit} images for today left, and this asks for"
            " {count}. More free up {when}."
        ),
        "audit_job_title": "New image",
        "audit_refused_title": "Prompt refused",
        "audit_requester": "Requester",
        "audit_result": "Result",
        "audit_words": "Banned words",
        "audit_unposted_title": "Not posted",
        "audit_unposted": (
            "{count} more refused prompt(s) of this member since the last post, left out"
            " to keep this channel readable."
        ),
        "audit_delete_button": "Delete image",
        "audit_block_button": "Block member",
        "audit_deleted": "Image deleted by {moderator}.",
        "audit_blocked": "{user} blocked by {moderator}.",
        "admin_settings": (
            "**Images per day**: {user_daily} per member, {guild_daily} for the server; {day}\n"
            "**Cooldown**: {cooldown} · **Jobs waiting per member**: {waiting}\n"
            "**Caps**: {steps} steps · {count} image(s) per request · size {size}\n"
            "**Defaults for /imagine**: {defaults}\n"
            "**Tiers**: {tiers}\n"
            "**Exempt roles**: {exempt}\n"
            "**Banned words**: {words} · **Blocked members**: {blocked}\n"
            "**Audit channel**: {audit}"
        ),
        "admin_defaults_none": "none set (the bot's own apply)",
        "admin_default_count": "{count} image(s)",
        "admin_default_steps": "{steps} steps",
        "admin_default_guidance": "guidance {guidance}",
        "admin_default_size": "size {size}",
        "admin_default_negative": "negative prompt: {text}",
        "admin_default_lowered": "(set to {value}, which this server does not allow now)",
        "admin_default_cap_steps": (
            "A default of {value} steps is over this server's cap of {limit} steps;"
            " lower the default or raise the cap first."
        ),
        "admin_default_cap_count": (
            "A default of {value} image(s) is over this server's cap of {limit} per request;"
            " lower the default or raise the cap first."
        ),
        "admin_default_cap_size": (
            "A default size of {size} is over this server's cap of {limit};"
            " pick a smaller size or raise the cap first."
        ),
        "admin_no_limit": "no limit",
        "admin_seconds": "{seconds} s",
        "admin_as_server": "as the server",
        "admin_day_rolling": "a day is the last 24 hours",
        "admin_day_calendar": "a day starts at midnight ({timezone})",
        "admin_tier": "{role}: {user_daily} images per day, cooldown {cooldown}, waiting {waiting}",
        "admin_saved": "Saved.",
        "admin_unchanged": "Nothing changed.",
        "admin_bad_timezone": (
            "{timezone} is not a time zone I know; write one like Europe/Berlin or Asia/Seoul."
        ),
        "admin_bad_size": "Write the size as width x height, like 512x512, or none for no cap.",
        "admin_words_none": "No words given: separate words or phrases with commas.",
        "admin_word_too_long": "A banned word or phrase can be at most {limit} characters.",
        "admin_words_too_many": "A server can ban at most {limit} words.",
        "admin_words_added": "Banned {count} new word(s): {words}",
        "admin_words_removed": "Allowed {count} word(s) again: {words}",
        "admin_words_empty": "This server bans no words.",
        "admin_words_list": "Banned words ({count}): {words}",
        "admin_blocked": "{user} can no longer make images in this server.",
        "admin_already_blocked": "{user} was blocked already.",
        "admin_unblocked": "{user} can make images in this server again.",
        "admin_not_blocked": "{user} was not blocked.",
        "admin_blocked_empty": "No one is blocked in this server.",
        "admin_blocked_list": "Blocked members ({count}): {users}",
        "admin_audit_set": "Every image and every refused prompt will be posted in {channel}.",
        "admin_audit_off": "The audit log is off.",
        "admin_usage": (
            "Last {days} day(s): {images} image(s) in {jobs} job(s) by {members} member(s)."
        ),
        "admin_usage_top": "{rank}. {user}: {images} image(s) in {jobs} job(s)",
        "admin_usage_empty": "No images were made in the last {days} day(s).",
        "admin_export": "Every job of the last {days} day(s), one row each (times in UTC).",
        "chart_per_day": "Images per day ({timezone})",
        "chart_top": "Top members",
        "quota_exempt": "No limits apply to you in this server.",
        "quota_mine_limited": "Your images today: {used} of {limit}, {left} left.",
        "quota_mine_unlimited": "Your images today: {used} (no daily limit).",
        "quota_server_limited": "This server today: {used} of {limit} images, {left} left.",
        "quota_server_unlimited": "This server today: {used} images (no daily limit).",
        "quota_frees": "More free up {when}.",
        "quota_day": "Here, {day}.",
        "quota_waiting": "Jobs waiting: {count} of {limit}.",
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
