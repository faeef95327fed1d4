"""JAX's exported programs (worker/engine/exported.py): a second start loads the program
instead of tracing it, gives the same outputs, and never runs a stale or broken file.

A small Keras layer stands in for the UNet: what is tested is the keeping, not the model.
Runs under ``IMAGINE_BACKEND=jax`` (CI's JAX pass); skipped on TensorFlow, which has no
exported programs.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.engine.conftest import BACKEND
from worker.engine import backend

pytestmark = pytest.mark.skipif(BACKEND != "jax", reason="exported programs are JAX's")


class Layered:
    """A Dense layer behind compile_function, counting how often its body is traced."""

    def __init__(self, cache_key: str = "") -> None:
        import keras

        keras.utils.set_random_seed(3)
        self.layer = keras.layers.Dense(4)
        self.layer.build((None, 3))
        self.traces: Counter[str] = Counter()
        self.run = backend.compile_function(
            self._run, self.layer.variables, jit_compile=True, cache_key=cache_key
        )

    def _run(self, x: Any) -> Any:
        self.traces["run"] += 1
        return self.layer(x)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(backend, "_export_folder", tmp_path)
    return tmp_path


def inputs() -> Any:
    from keras import ops

    return ops.convert_to_tensor(np.arange(6, dtype=np.float32).reshape(2, 3))


def expected(model: Layered) -> np.ndarray:
    kernel, bias = (np.asarray(v.value) for v in model.layer.variables)
    return np.arange(6, dtype=np.float32).reshape(2, 3) @ kernel + bias


def test_the_first_start_exports_and_a_second_loads_without_tracing(folder: Path) -> None:
    first = Layered()
    np.testing.assert_allclose(np.asarray(first.run(inputs())), expected(first), rtol=1e-6)
    assert first.traces["run"] == 1
    assert len(list(folder.glob("*.jaxexport"))) == 1

    second = Layered()
    np.testing.assert_allclose(np.asarray(second.run(inputs())), expected(second), rtol=1e-6)
    assert second.traces["run"] == 0  # loaded, not traced


def test_the_weights_are_arguments_not_constants_of_the_program(folder: Path) -> None:
    Layered().run(inputs())
    loaded = Layered()
    loaded.layer.kernel.assign(np.ones((3, 4), np.float32))  # weights the file never saw
    np.testing.assert_allclose(np.asarray(loaded.run(inputs())), expected(loaded), rtol=1e-6)
    assert loaded.traces["run"] == 0


def test_a_different_setting_is_a_different_program(folder: Path) -> None:
    Layered(cache_key="route=a").run(inputs())
    other = Layered(cache_key="route=b")
    other.run(inputs())
    assert other.traces["run"] == 1
    assert len(list(folder.glob("*.jaxexport"))) == 2


def test_an_unreadable_file_is_exported_again(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Layered().run(inputs())
    (path,) = folder.glob("*.jaxexport")
    path.write_bytes(path.read_bytes()[:100])  # a worker stopped mid-write, say
    again = Layered()
    np.testing.assert_allclose(np.asarray(again.run(inputs())), expected(again), rtol=1e-6)
    assert again.traces["run"] == 1
    assert "unreadable exported program" in caplog.text
    assert len(path.read_bytes()) > 100  # written whole again
