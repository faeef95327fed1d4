"""Delivery: a job's status and outcome in its Discord message, and the requester told.

- deliverer: follows the job store and keeps each job's message up to date;
- writer: edits, posts anew (at most once) and replies through Discord;
- drafts: a message as data, made into discord.py arguments afresh for each request;
- errors: what a Discord error means (try later, or stop);
- pacing: backoff per delivery and the bot's budget of invalid requests;
- texts: what the messages say.
"""

from bot.delivery.deliverer import Deliverer, FinishHook, ReleaseHook
from bot.delivery.texts import duration, progress_bar, seconds_left

__all__ = ["Deliverer", "FinishHook", "ReleaseHook", "duration", "progress_bar", "seconds_left"]
