"""Help texts and choices of the /imagine options, shared with `/imagine-admin defaults`
so the two commands describe (and translate) each option the same way."""

from __future__ import annotations

import dataclasses
from typing import Any

from discord import app_commands

from core.jobs import MODEL_NAMES, SAMPLER_NAMES

OPTION_HELP = {
    "prompt": "What to draw",
    "negative_prompt": "What to keep out of the picture",
    "count": "How many images (1-4)",
    "steps": "Denoising steps: more is slower and finer",
    "guidance": "How closely to follow the prompt (7-8.5 is typical)",
    "seed": "Same seed + same settings = same picture",
    "size": "Width x height in pixels",
    "sampler": "How to denoise: DPM-Solver++ is good at 20-25 steps",
    "model": "Which Stable Diffusion model draws it",
    "image": "A picture to start from (PNG, JPEG or WebP)",
    "mask": "With an image: white where to redraw it, black where to keep it",
    "strength": "How much of the picture to redraw (0.05-1)",
}

SAMPLER_CHOICES = [app_commands.Choice(name=name, value=key) for key, name in SAMPLER_NAMES.items()]


def option_help(*names: str) -> dict[str, str]:
    return {name: OPTION_HELP[name] for name in names}


def model_names(models: tuple[str, ...]) -> str:
    return ", ".join(MODEL_NAMES.get(model, model) for model in models)


def offer_models(command: app_commands.Command[Any, Any, Any], models: tuple[str, ...]) -> None:
    """Makes the command's `model` option offer the models this bot runs (IMAGINE_MODELS),
    known only at start-up: a decorator's choices are fixed when the module is read.
    `command` is the cog's own copy of the command, so only this bot's is changed."""
    choices: list[app_commands.Choice[str | int | float]] = [
        app_commands.Choice(name=app_commands.locale_str(MODEL_NAMES.get(m, m)), value=m)
        for m in models
    ]
    params = command._params  # discord.py has no public way to set choices after the fact
    params["model"] = dataclasses.replace(params["model"], choices=choices)
