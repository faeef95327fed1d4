"""`python -m worker` shares CLIP's vocabulary with the bot before it fetches the weights
and builds the model (a download and a compilation that take minutes, an hour on a first
run)."""

import asyncio
from pathlib import Path

import pytest

from core.store.sqlite import SqliteJobStore
from core.vocab_share import ASSET, unpack
from tests.support.processes import stack_env
from worker import __main__ as worker_main


async def shared(path: Path) -> bytes | None:
    store = await SqliteJobStore.open(path)
    try:
        return await store.asset(ASSET)
    finally:
        await store.close()


def test_the_worker_shares_its_vocabulary_before_fetching_the_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = stack_env(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    found_when_fetching: list[bytes | None] = []

    def downloaded_weights(
        weights: str, cache_dir: Path, mirror: str | None, models: tuple[str, ...]
    ) -> str:
        found_when_fetching.append(asyncio.run(shared(tmp_path / "jobs.db")))
        raise SystemExit(3)  # stop here: the weights are not what this test is about

    monkeypatch.setattr(worker_main, "downloaded_weights", downloaded_weights)
    monkeypatch.setattr(worker_main, "setup_logging", lambda level: None)  # pytest's, kept
    with pytest.raises(SystemExit):
        worker_main.main(["worker"])
    [blob] = found_when_fetching
    assert blob is not None
    found = unpack(blob)
    assert found is not None
    assert found[0] == Path(env["IMAGINE_VOCAB"]).read_bytes()
