"""One engine for the whole session: the real KerasCV architecture with random weights
at 128x128 (the UNet alone is 3.4 GB, so it is built once, and warmed up once). Tests
of Stable Diffusion 2.1 get a second one, `sd21_engine`, built only if they run (its
UNet and text encoder are another 4.9 GB).

The Keras backend is the session's: ``IMAGINE_BACKEND=jax pytest tests/engine`` runs the
same tests on JAX. Keras reads its backend once, on first import, so it is chosen here,
before any test module imports Keras.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pytest

from tests.support.vocab import write_test_vocab
from worker.engine.backend import select_backend

if TYPE_CHECKING:
    from worker.engine.engine import KerasEngine

SIZE = (128, 128)
STEPS = 2
BACKEND = os.environ.get("IMAGINE_BACKEND", "tensorflow")
select_backend(BACKEND)


@pytest.fixture(scope="session")
def vocab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_test_vocab(tmp_path_factory.mktemp("vocab") / "merges.txt.gz")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def built_engine(vocab: Path, cache_dir: Path, model: str, max_batch: int = 4) -> KerasEngine:
    """A warmed-up random-weight engine holding `model` alone, at SIZE."""
    from worker.engine import build_engine
    from worker.engine.engine import KerasEngine

    built = build_engine(
        "random",
        sizes=[SIZE],
        vocab=vocab,
        cache_dir=cache_dir,
        precision="float32",
        max_batch=max_batch,
        steps_per_call=1,  # progress after every step, so cancellation can be tested
        backend=BACKEND,
        models=(model,),
    )
    assert isinstance(built, KerasEngine)
    built.warm_up(background=False)
    return built


@pytest.fixture(scope="session")
def engine(vocab: Path, cache_dir: Path) -> KerasEngine:
    return built_engine(vocab, cache_dir, "sd14")


@pytest.fixture(scope="session")
def sd21_engine(vocab: Path, cache_dir: Path) -> KerasEngine:
    # Batches of two at most: its tests need no more, and each bucket is a warm-up.
    return built_engine(vocab, cache_dir, "sd21", max_batch=2)


@contextlib.contextmanager
def recording_decodes(engine: KerasEngine) -> Iterator[list[npt.NDArray[np.float32]]]:
    """Records the latents `engine` (its only or first model) decodes; it still decodes."""
    seen: list[npt.NDArray[np.float32]] = []
    model = engine.model
    decode = model.decode

    def recording(latents: Any) -> Any:
        seen.append(np.asarray(latents))
        return decode(latents)

    model.decode = recording
    try:
        yield seen
    finally:
        model.decode = decode


@pytest.fixture
def decoded(engine: KerasEngine) -> Iterator[list[npt.NDArray[np.float32]]]:
    """Records the latents the engine decodes (it still decodes them)."""
    with recording_decodes(engine) as seen:
        yield seen
