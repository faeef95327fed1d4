"""The Discord client: owns the connection, the job store and the ledger."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

import discord
from discord.ext import commands

from bot import queueing
from bot.buttons import JobButton
from bot.delivery import Deliverer
from bot.errors import ImagineTree
from bot.i18n import CommandTranslator
from bot.ledger import Ledger
from bot.moderation import AuditButton, Moderation
from core.clip_tokens import ClipTokenCounter
from core.jobs import Job, JobParams
from core.retention import keep_purging
from core.settings import BotSettings
from core.store import JobStore, open_store
from core.store.base import DAY
from core.vocab_share import Vocabulary

log = logging.getLogger(__name__)

EXTENSIONS = ("bot.cogs.imagine", "bot.cogs.queue", "bot.moderation.commands")


class ImagineBot(commands.Bot):
    store: JobStore
    ledger: Ledger
    deliverer: Deliverer
    moderation: Moderation
    vocabulary: Vocabulary

    def __init__(self, settings: BotSettings, **options: Any) -> None:
        # Slash commands need no privileged intents: no message content, no members.
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            tree_cls=ImagineTree,
            **options,
        )
        self.settings = settings
        self._delivery_task: asyncio.Task[None] | None = None
        self._background: list[asyncio.Task[None]] = []  # the vocabulary watch, the purge

    @property
    def tokens(self) -> ClipTokenCounter:
        """Raises InvalidRequest (one sentence) until a vocabulary is at hand."""
        return self.vocabulary.counter()

    async def setup_hook(self) -> None:
        retention = self.settings.retention_days * DAY
        self.store = await open_store(self.settings.store, retention_seconds=retention)
        # Never from the internet: IMAGINE_VOCAB, the cache, or what a worker shared.
        self.vocabulary = Vocabulary(self.store, self.settings.vocab, self.settings.cache_dir)
        if not await self.vocabulary.load():
            self._spawn(self.vocabulary.watch(), "vocabulary")
        self._spawn(keep_purging(self.store), "purge")
        self.ledger = await Ledger.open(self.settings.bot_db)
        self.moderation = await Moderation.open(self.settings.bot_db, self)
        self.deliverer = Deliverer(
            self,
            self.store,
            self.ledger,
            retry_seconds=self.settings.retry_seconds,
            after_finish=self.moderation.settle,
            after_release=self.moderation.release,
            upscale_sizes=frozenset(self.settings.upscale_sizes),
        )
        await self.tree.set_translator(CommandTranslator())
        self.add_dynamic_items(JobButton, AuditButton)  # buttons outlive a restart
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self._sync_commands()
        self._delivery_task = asyncio.create_task(self.deliverer.run(), name="delivery")

    async def submit(
        self,
        interaction: discord.Interaction,
        params: JobParams,
        *,
        source_png: bytes | None = None,
    ) -> Job:
        """Queues a job for a deferred interaction and shows its status there."""
        return await queueing.submit(self, interaction, params, source_png=source_png)

    async def _sync_commands(self) -> None:
        guild_id = self.settings.sync_guild
        if guild_id is None:
            synced = await self.tree.sync()
        else:  # a test server sees changes at once; global commands take a while
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        log.info("Synced %d command(s)", len(synced))

    async def on_ready(self) -> None:
        log.info("Connected as %s to %d server(s)", self.user, len(self.guilds))

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self._background.append(asyncio.create_task(work, name=name))

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._delivery_task is not None:
            self._delivery_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery_task
        if hasattr(self, "moderation"):
            await self.moderation.audit.close()  # posts under way need the connection
        await super().close()
        if hasattr(self, "moderation"):
            await self.moderation.close()
        if hasattr(self, "ledger"):
            await self.ledger.close()
        if hasattr(self, "store"):
            await self.store.close()
