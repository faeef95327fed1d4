"""The bot gets CLIP's vocabulary without the internet: from its own IMAGINE_VOCAB, its
cache, or the copy a worker shared in the job store. Without any, it starts anyway and
answers /imagine with one sentence, queueing nothing, until a worker shares it."""

import asyncio
import gzip
import ipaddress
import socket
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.i18n import t
from core import vocab_share
from core.jobs import InvalidRequest
from core.settings import WorkerSettings
from core.store import JobStore
from core.store.sqlite import SqliteJobStore
from core.vocab import VOCAB_NAME
from core.vocab_share import ASSET, Vocabulary, pack
from tests.fake_discord import EPHEMERAL, FakeDiscord
from tests.moderation.helpers import MODERATOR, answer
from tests.support.bot_stack import running_bot, running_worker
from tests.support.engines import StepEngine
from tests.support.vocab import write_test_vocab

NO_VOCAB = t("no_vocab", "en-US")


def loopback(host: object) -> bool:
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return str(host) == "localhost"


@pytest.fixture
def outside(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every address this process tried to reach beyond loopback (refused), and every
    urllib fetch: a test that ends with it empty never left the machine."""
    tried: list[object] = []
    connect, getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(sock: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not loopback(host):
            tried.append(address)
            raise OSError("this test runs offline")
        connect(sock, address)  # type: ignore[arg-type]

    def guarded_getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if host is not None and not loopback(host):
            tried.append(host)
            raise socket.gaierror("this test runs offline")
        return getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    def urlopen(url: object, *args: object, **kwargs: object) -> object:
        tried.append(url)
        raise OSError("this test runs offline")

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return tried


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Waits for `condition()` (a watch that runs in the bot, not in the fake Discord)."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 (the bot's watch sets no event)
            await asyncio.sleep(0.02)


def worker_settings(tmp_path: Path) -> WorkerSettings:
    return WorkerSettings(
        _env_file=None,
        IMAGINE_STORE=f"sqlite:///{tmp_path / 'jobs.db'}",
        IMAGINE_VOCAB=write_test_vocab(tmp_path / "worker-vocab.gz"),
        IMAGINE_CACHE_DIR=tmp_path / "worker-cache",
    )


async def test_a_bot_without_a_vocabulary_says_so_until_a_worker_shares_one(
    fake_discord: FakeDiscord,
    tmp_path: Path,
    job_store: SqliteJobStore,
    outside: list[object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = fake_discord
    monkeypatch.setattr(vocab_share, "CHECK_EVERY_SECONDS", 0.05)
    # No IMAGINE_VOCAB, an empty cache, no worker yet: a first run while weights download.
    unset = {"IMAGINE_VOCAB": None, "IMAGINE_CACHE_DIR": tmp_path / "bot-cache"}
    async with running_bot(fake, tmp_path, **unset) as bot:
        refused = await fake.slash("imagine", {"prompt": "a lighthouse"})
        callback = await refused.wait_callback()
        assert (callback.data["content"], callback.data["flags"] & EPHEMERAL) == (NO_VOCAB, 64)
        assert await job_store.head() == 0  # nothing queued, not even an event
        assert not bot.vocabulary.ready

        await vocab_share.share(job_store, worker_settings(tmp_path))  # what serve() does
        await until(lambda: bot.vocabulary.ready)
        async with running_worker(job_store, StepEngine()):
            made = await fake.slash("imagine", {"prompt": "a lighthouse"})
            await made.wait_original(lambda m: bool(m.attachments), 30)
    assert outside == []
    # The worker's file is counted with, and cached only under its own hash.
    cached = sorted(path.name for path in (tmp_path / "bot-cache").iterdir())
    assert len(cached) == 1
    assert cached[0].startswith("clip-merges-")
    assert cached[0] != VOCAB_NAME


async def test_server_defaults_that_count_no_tokens_need_no_vocabulary(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    """Only a negative prompt is counted in tokens: a moderator can set the other
    defaults while the workers are still downloading, before any vocabulary is shared."""
    unset = {"IMAGINE_VOCAB": None, "IMAGINE_CACHE_DIR": tmp_path / "bot-cache"}
    count = [{"name": "count", "type": 4, "value": 2}]
    negative = [{"name": "negative_prompt", "type": 3, "value": "blurry"}]
    async with running_bot(fake_discord, tmp_path, **unset):
        answers = []
        for options in (count, negative):
            command = [{"type": 1, "name": "defaults", "options": options}]
            sent = await fake_discord.slash("imagine-admin", command, permissions=MODERATOR)
            answers.append(await answer(sent))
    assert answers[0].startswith("Saved.")
    assert "**Defaults for /imagine**: 2 image(s)" in answers[0]
    assert answers[1] == NO_VOCAB


async def test_a_command_makes_the_bot_look_at_once(tmp_path: Path) -> None:
    """Between two looks (10 s apart) a member's command sends the bot looking now."""
    store = await SqliteJobStore.open(tmp_path / "jobs.db")
    vocabulary = Vocabulary(store, None, tmp_path / "cache")
    watch = asyncio.create_task(vocabulary.watch())
    try:
        await asyncio.sleep(0)  # its first look: nothing shared yet
        await vocab_share.share(store, worker_settings(tmp_path))
        with pytest.raises(InvalidRequest, match="no_vocab"):
            vocabulary.counter()
        async with asyncio.timeout(vocab_share.CHECK_EVERY_SECONDS / 2):
            await watch
        assert vocabulary.counter().count("a lighthouse") > 2
    finally:
        watch.cancel()
        await store.close()


async def damaged(store: JobStore, tmp_path: Path) -> None:
    blob = pack(write_test_vocab(tmp_path / "vocab.gz").read_bytes())
    await store.put_asset(ASSET, blob[:-10])  # cut short: its hash no longer matches


async def not_gzip(store: JobStore, tmp_path: Path) -> None:
    await store.put_asset(ASSET, pack(b"#version: 0.2\nnot a gzip file\n"))


@pytest.mark.parametrize("share", [damaged, not_gzip])
async def test_an_unusable_shared_file_is_refused_and_a_good_one_taken_later(
    share: Callable[[JobStore, Path], Awaitable[None]], tmp_path: Path
) -> None:
    store = await SqliteJobStore.open(tmp_path / "jobs.db")
    vocabulary = Vocabulary(store, None, tmp_path / "cache")
    await share(store, tmp_path)
    assert not await vocabulary.load()
    assert not vocabulary.ready
    await vocab_share.share(store, worker_settings(tmp_path))
    assert await vocabulary.load()
    await store.close()


async def test_the_cache_is_used_only_when_its_hash_is_clips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await SqliteJobStore.open(tmp_path / "jobs.db")
    cache = tmp_path / "cache"
    cache.mkdir()
    test_file = write_test_vocab(cache / VOCAB_NAME)  # not CLIP's: its hash differs
    assert not await Vocabulary(store, None, cache).load()
    monkeypatch.setattr(vocab_share, "VOCAB_SHA256", vocab_share._sha256(test_file.read_bytes()))
    assert await Vocabulary(store, None, cache).load()
    await store.close()


def test_a_packed_file_reads_back_only_whole() -> None:
    data = gzip.compress(b"#version: 0.2\na b\n")
    blob = pack(data)
    assert vocab_share.unpack(blob) == (data, vocab_share._sha256(data))
    assert vocab_share.unpack(blob[:-1]) is None
    assert vocab_share.unpack(data) is None
