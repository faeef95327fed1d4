"""Every sentence the bot says, by key. English now; more languages plug in per locale."""

from __future__ import annotations

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
        "running": "Drawing: step {step} of {total} {bar}",
        "starting": "Drawing: starting…",
        "failed": "This job failed: {error}",
        "canceled": "This job was canceled.",
        "done": "Done in {seconds:.1f} s.",
        "unexpected": "Something went wrong on our side (error id {error_id}). Please try again.",
        "unknown_command": "This command is not known here; it may have been removed.",
        "bad_options": "Some options of this command were not understood; please try again.",
        "guild_only": "This command works in servers only.",
        "not_allowed": "You are not allowed to do that here.",
        "job_gone": "That job is no longer here.",
        "not_yours": "Only the member who asked for this, or a moderator, can do that.",
        "button_cancel": "Cancel",
        "field_seed": "Seed",
        "field_steps": "Steps",
        "field_guidance": "Guidance",
        "field_size": "Size",
        "field_time": "Time",
        "field_negative": "Negative prompt",
    },
}
DEFAULT_LOCALE = "en-US"


def t(key: str, locale: str = DEFAULT_LOCALE, **values: object) -> str:
    """The message `key` in `locale` (English if that language lacks it), filled in."""
    table = MESSAGES.get(locale, MESSAGES[DEFAULT_LOCALE])
    template = table.get(key) or MESSAGES[DEFAULT_LOCALE][key]
    return template.format(**values)
