"""One engine for the whole session: the real KerasCV architecture with random weights
at 128x128 (the UNet alone is 3.4 GB, so it is built once, and warmed up once).

The Keras backend is the session's: ``IMAGINE_BACKEND=jax pytest tests/engine`` runs the
same tests on JAX. Keras reads its backend once, on first import, so it is chosen here,
before any test module imports Keras.
"""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def engine(vocab: Path, cache_dir: Path) -> KerasEngine:
    from worker.engine import build_engine
    from worker.engine.engine import KerasEngine

    built = build_engine(
        "random",
        sizes=[SIZE],
        vocab=vocab,
        cache_dir=cache_dir,
        precision="float32",
        max_batch=4,
        steps_per_call=1,  # progress after every step, so cancellation can be tested
        backend=BACKEND,
    )
    assert isinstance(built, KerasEngine)
    built.warm_up(background=False)
    return built


@pytest.fixture
def decoded(engine: KerasEngine) -> Iterator[list[npt.NDArray[np.float32]]]:
    """Records the latents the engine decodes (it still decodes them)."""
    seen: list[npt.NDArray[np.float32]] = []
    decode = engine.model.decode

    def recording(latents: Any) -> Any:
        seen.append(np.asarray(latents))
        return decode(latents)

    engine.model.decode = recording
    yield seen
    engine.model.decode = decode
