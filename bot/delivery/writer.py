"""Puts a job's message in Discord: edits it through the interaction while the token
lives, else with the bot's own token; posts it anew when there is no message to edit;
replies to it to tell the requester their result is ready.

A new message sent with the bot's token is sent at most once per job and kind, even
across a crash between the send and noting what was sent:
1. the ledger notes an intent (a random nonce and the time) before the first send;
2. the message is sent with that nonce and `enforce_nonce`, so the same send repeated
   within Discord's window of a few minutes is answered with the first message;
3. a send repeated later first looks among the channel's messages since the intent for
   one of the bot's that is it (the job's buttons carry its id; a reply names the
   message it answers), and adopts it instead of sending again.
The message's id is noted, and the intent dropped, in one transaction.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import discord

from bot.delivery.drafts import Draft, only_user
from bot.delivery.errors import Verdict, classify
from bot.delivery.pacing import InvalidRequestBudget
from bot.i18n import t
from bot.ledger import Delivery, Ledger, SendKind

log = logging.getLogger(__name__)

SEARCH_LIMIT = 50  # messages looked at after an intent; ours follows it within a moment
CLOCK_SLACK = 60.0  # our clock and Discord's may differ; look a little further back

Match = Callable[[discord.Message], bool]


class MessageWriter:
    def __init__(
        self,
        client: discord.Client,
        ledger: Ledger,
        budget: InvalidRequestBudget,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._client, self._ledger, self._budget, self._wall = client, ledger, budget, wall

    async def put(self, delivery: Delivery, draft: Draft) -> Delivery:
        """Shows `draft` in the job's message; returns the delivery as it now stands."""
        if delivery.status_message_id is not None:
            return await self._edit(delivery, delivery.status_message_id, draft)
        if self._token_lives(delivery):
            # The command stopped before noting its message: take over the deferred
            # response ("@original" is the route's name for it; its id is unknown).
            try:
                message = await self._webhook(delivery).edit_message(  # type: ignore[call-overload]
                    "@original", **draft.edit_fields()
                )
            except discord.HTTPException as error:
                if classify(error) is not Verdict.TOKEN_DEAD:
                    raise
                delivery = await self._token_died(delivery, error)
            else:
                await self._ledger.set_status_message(delivery.job_id, message.id)
                return dataclasses.replace(delivery, status_message_id=message.id)
        return await self._post_anew(delivery, draft)

    async def notify(self, delivery: Delivery) -> None:
        """Replies to the result with a mention of its requester: a mention edited into a
        message notifies nobody, a new message's does. Only that member may be pinged."""
        assert delivery.status_message_id is not None
        result_id, user_id = delivery.status_message_id, delivery.user_id
        reference = discord.MessageReference(
            message_id=result_id, channel_id=delivery.channel_id, fail_if_not_exists=False
        )
        text = t("result_ready", delivery.locale, mention=f"<@{user_id}>")
        await self._send_once(
            delivery,
            SendKind.NOTIFY,
            lambda m: m.reference is not None and m.reference.message_id == result_id,
            lambda: {
                "content": text,
                "reference": reference,
                "allowed_mentions": only_user(user_id),
            },
        )
        await self._ledger.mark_notified(delivery.job_id, self._wall())

    async def _edit(self, delivery: Delivery, message_id: int, draft: Draft) -> Delivery:
        if self._token_lives(delivery):
            try:
                await self._webhook(delivery).edit_message(message_id, **draft.edit_fields())
                return delivery
            except discord.HTTPException as error:
                if classify(error) is not Verdict.TOKEN_DEAD:
                    raise
                delivery = await self._token_died(delivery, error)
        channel = self._channel(delivery)
        await channel.get_partial_message(message_id).edit(**draft.edit_fields())
        return delivery

    async def _post_anew(self, delivery: Delivery, draft: Draft) -> Delivery:
        job_id = delivery.job_id
        message = await self._send_once(
            delivery, SendKind.POST, lambda m: names_job(m, job_id), draft.send_fields
        )
        if message.content != draft.content:
            # An earlier post of this job's (its status, sent before a crash) came back:
            # put the draft in it. Its edited-in mention notifies nobody.
            await message.edit(**draft.edit_fields())
            pinged = False
        else:
            pinged = draft.mention is not None  # a new message's mention notifies
        notified = self._wall() if pinged else None
        await self._ledger.set_status_message(job_id, message.id, notified_at=notified)
        return dataclasses.replace(
            delivery,
            status_message_id=message.id,
            lost_at=None,
            notified_at=delivery.notified_at or notified,
        )

    async def _send_once(
        self,
        delivery: Delivery,
        kind: SendKind,
        matches: Match,
        fields: Callable[[], dict[str, Any]],
    ) -> discord.Message:
        channel = self._channel(delivery)
        intent = await self._ledger.intent(delivery.job_id, kind)
        if intent is None:
            intent = await self._ledger.new_intent(delivery.job_id, kind, self._wall())
        elif (found := await self._find(channel, intent.at, matches)) is not None:
            return found
        message: discord.Message = await channel.send(nonce=intent.nonce, **fields())
        return message

    async def _find(
        self, channel: discord.PartialMessageable, since: float, matches: Match
    ) -> discord.Message | None:
        """The bot's message in `channel` sent after `since` that `matches`, if any."""
        assert self._client.user is not None
        me = self._client.user.id
        after = datetime.fromtimestamp(since - CLOCK_SLACK, UTC)
        try:
            async for message in channel.history(limit=SEARCH_LIMIT, after=after):
                # Sent with the bot's token: not the interaction's own response, which
                # carries the same buttons but is not what this intent sent.
                sent = message.author.id == me and message.interaction_metadata is None
                if sent and matches(message):
                    return message
        except discord.Forbidden as error:
            # No "Read Message History" here: the nonce alone guards the send.
            self._budget.note(error)
        return None

    async def _token_died(self, delivery: Delivery, error: discord.HTTPException) -> Delivery:
        await self._ledger.drop_token(delivery.job_id)
        log.info("Interaction token of job %s expired; using the bot token", delivery.job_id)
        self._budget.note(error)
        return dataclasses.replace(delivery, token_expires=0.0)

    def _token_lives(self, delivery: Delivery) -> bool:
        return self._wall() < delivery.token_expires

    def _webhook(self, delivery: Delivery) -> discord.Webhook:
        return discord.Webhook.partial(
            delivery.application_id, delivery.interaction_token, client=self._client
        )

    def _channel(self, delivery: Delivery) -> discord.PartialMessageable:
        return self._client.get_partial_messageable(delivery.channel_id)


def names_job(message: discord.Message, job_id: str) -> bool:
    """Whether one of the message's buttons belongs to the job (their custom ids carry
    the job's id as one of their colon-separated parts)."""
    for row in message.components:
        for item in getattr(row, "children", [row]):
            custom_id = getattr(item, "custom_id", None)
            if custom_id and job_id in custom_id.split(":"):
                return True
    return False
