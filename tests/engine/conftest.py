"""One engine for the whole session: the real KerasCV architecture with random weights
at 128x128 (the UNet alone is 3.4 GB, so it is built once, and warmed up once)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.vocab import write_test_vocab

if TYPE_CHECKING:
    from worker.engine.engine import KerasEngine

SIZE = (128, 128)
STEPS = 2


@pytest.fixture(scope="session")
def vocab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_test_vocab(tmp_path_factory.mktemp("vocab") / "merges.txt.gz")


@pytest.fixture(scope="session")
def engine(vocab: Path, tmp_path_factory: pytest.TempPathFactory) -> KerasEngine:
    from worker.engine import build_engine
    from worker.engine.engine import KerasEngine

    built = build_engine(
        "random",
        sizes=[SIZE],
        vocab=vocab,
        cache_dir=tmp_path_factory.mktemp("cache"),
        precision="float32",
        max_batch=4,
        steps_per_call=1,  # progress after every step, so cancellation can be tested
    )
    assert isinstance(built, KerasEngine)
    built.warm_up()
    return built
