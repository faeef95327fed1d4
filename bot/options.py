"""Help texts and choices of the /imagine options, shared with `/imagine-admin defaults`
so the two commands describe (and translate) each option the same way."""

from __future__ import annotations

from discord import app_commands

from core.jobs import SAMPLER_NAMES

OPTION_HELP = {
    "prompt": "What to draw",
    "negative_prompt": "What to keep out of the picture",
    "count": "How many images (1-4)",
    "steps": "Denoising steps: more is slower and finer",
    "guidance": "How closely to follow the prompt (7-8.5 is typical)",
    "seed": "Same seed + same settings = same picture",
    "size": "Width x height in pixels",
    "sampler": "How to denoise: DPM-Solver++ is good at 20-25 steps",
    "image": "A picture to start from (PNG, JPEG or WebP)",
    "strength": "How much of the picture to redraw (0.05-1)",
}

SAMPLER_CHOICES = [app_commands.Choice(name=name, value=key) for key, name in SAMPLER_NAMES.items()]


def option_help(*names: str) -> dict[str, str]:
    return {name: OPTION_HELP[name] for name in names}
