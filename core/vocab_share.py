"""CLIP's merges file through the job store, so the bot needs no internet beyond Discord.

A worker loads the file anyway (IMAGINE_VOCAB, or the download checked against CLIP's
hash) and puts the exact bytes it tokenizes with into the store, with their hash; the
bot then counts tokens with the same file. The bot takes, in order: its own
IMAGINE_VOCAB, a copy in its cache whose hash is CLIP's, the store's copy if it matches
the hash stored with it. It never downloads. Until a worker has shared the file, /imagine
answers with one sentence, and the bot looks again every CHECK_EVERY_SECONDS, or at once
when a command needed the file.

The store's copy is checked against the hash it came with, not only against CLIP's: a
worker configured with another merges file (IMAGINE_VOCAB) tokenizes with that one, and
the bot must count the way the worker will. Only CLIP's own file is cached as the
verified copy for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from pathlib import Path

from core.clip_tokens import ClipTokenCounter
from core.jobs import InvalidRequest
from core.settings import CommonSettings
from core.store import JobStore, open_store
from core.vocab import VOCAB_NAME, VOCAB_SHA256, resolve_vocab

log = logging.getLogger(__name__)

ASSET = "clip-merges"
CHECK_EVERY_SECONDS = 10.0
_HEADER = b"sha256:"


def pack(data: bytes) -> bytes:
    """The file with its hash in front, as one blob: no reader sees a new file beside an
    old hash."""
    return _HEADER + _sha256(data).encode() + b"\n" + data


def unpack(blob: bytes) -> tuple[bytes, str] | None:
    """The file and its hash if the blob is whole (the hash matches the bytes), else None."""
    header, _, data = blob.partition(b"\n")
    digest = header.removeprefix(_HEADER).decode("ascii", "replace")
    if not header.startswith(_HEADER) or _sha256(data) != digest:
        return None
    return data, digest


async def share_at_start(settings: CommonSettings) -> None:
    """The worker's part: shares its merges file before it downloads and compiles the
    model (minutes, an hour on a first run), so the bot takes /imagine meanwhile."""
    store = await open_store(settings.store)
    try:
        await share(store, settings)
    finally:
        await store.close()


async def share(store: JobStore, settings: CommonSettings) -> None:
    """Puts the merges file the worker loads into the store. A file it cannot read or
    fetch is logged, not fatal here: the worker's own start then says what is wrong."""
    try:
        path = await asyncio.to_thread(resolve_vocab, settings.vocab, settings.cache_dir)
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as error:
        log.warning("Could not share the CLIP vocabulary with the bot: %s", error)
        return
    await store.put_asset(ASSET, pack(data))
    log.info("Shared the CLIP vocabulary (%s) with the bot through the job store", path.name)


def local_copy(configured: Path | None, cache_dir: Path) -> Path | None:
    """IMAGINE_VOCAB if set, else a copy in the cache whose hash is CLIP's; never fetches."""
    if configured is not None:
        return configured
    cached = cache_dir / VOCAB_NAME
    if cached.is_file() and _sha256(cached.read_bytes()) == VOCAB_SHA256:
        return cached
    return None


class Vocabulary:
    """The bot's token counter, from the first vocabulary it finds."""

    def __init__(self, store: JobStore, configured: Path | None, cache_dir: Path) -> None:
        self._store = store
        self._configured = configured
        self._cache_dir = cache_dir
        self._counter: ClipTokenCounter | None = None
        self._wanted = asyncio.Event()  # a command needed it: look now
        self._refused: str | None = None  # the hash of a shared file that would not load

    @property
    def ready(self) -> bool:
        return self._counter is not None

    def counter(self) -> ClipTokenCounter:
        """The counter; until there is one, InvalidRequest with the sentence saying why,
        and the watcher looks at the store at once."""
        if self._counter is None:
            self._wanted.set()
            raise InvalidRequest("no_vocab")
        return self._counter

    async def load(self) -> bool:
        """Looks once: IMAGINE_VOCAB, the cache, the store. True once the counter is made."""
        path = await asyncio.to_thread(local_copy, self._configured, self._cache_dir)
        if path is not None:
            self._counter = await asyncio.to_thread(ClipTokenCounter, path)
            log.info("Counting CLIP tokens with %s", path)
            return True
        return await self._load_shared()

    async def watch(self) -> None:
        """Looks every CHECK_EVERY_SECONDS, or at once when a command asked, until found;
        a look that fails (the store out of reach, a full disk) is logged, not fatal."""
        log.warning(
            "No CLIP vocabulary yet (no IMAGINE_VOCAB, none cached in %s, none shared by a"
            " worker); /imagine says so until a worker shares it",
            self._cache_dir,
        )
        while True:
            self._wanted.clear()
            try:
                if await self.load():
                    return
            except Exception:
                log.warning("Could not look for the CLIP vocabulary; trying again", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wanted.wait(), CHECK_EVERY_SECONDS)

    async def _load_shared(self) -> bool:
        blob = await self._store.asset(ASSET)
        found = None if blob is None else unpack(blob)
        if found is None:
            if blob is not None:
                self._refuse("its hash does not match its bytes", "damaged")
            return False
        data, digest = found
        if digest == self._refused:
            return False
        official = digest == VOCAB_SHA256
        name = VOCAB_NAME if official else f"clip-merges-{digest[:16]}.gz"
        path = await asyncio.to_thread(_write, self._cache_dir / name, data)
        try:
            self._counter = await asyncio.to_thread(ClipTokenCounter, path)
        except (OSError, EOFError, ValueError) as error:  # not a gzip of UTF-8 merges
            self._refuse(str(error), digest)
            return False
        kind = "CLIP's own file" if official else f"a file of the worker's own, sha256 {digest}"
        log.info("Counting CLIP tokens with the vocabulary a worker shared (%s)", kind)
        return True

    def _refuse(self, why: str, digest: str) -> None:
        """One warning per bad file, not one per look."""
        if digest != self._refused:
            log.warning("The CLIP vocabulary a worker shared is unusable: %s", why)
        self._refused = digest


def _write(path: Path, data: bytes) -> Path:
    """Writes whole or not at all (the cache outlives this process)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(path)
    return path


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
