"""Small helpers shared by the engine's model tests."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from tests.engine.conftest import SIZE, STEPS
from worker.engine import GenerationRequest
from worker.engine.rows import latent_shape

if TYPE_CHECKING:
    from worker.engine.compiled import Blend, StepTable


def request(**changes: object) -> GenerationRequest:
    """A 128x128 DDIM request at the session's step count, with `changes` applied."""
    base = GenerationRequest(
        prompt="a red fox in the snow",
        negative_prompt="",
        count=1,
        steps=STEPS,
        guidance=7.5,
        seed=1234,
        width=SIZE[0],
        height=SIZE[1],
        sampler="ddim",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


class ProgressLog:
    """A progress callback that records every report and never cancels."""

    def __init__(self) -> None:
        self.reports: list[tuple[int, int]] = []

    def __call__(self, done: int, total: int) -> bool:
        self.reports.append((done, total))
        return True


def max_diff(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> int:
    """The largest per-pixel difference, in uint8 levels."""
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())


def relative_error(ours: npt.ArrayLike, expected: npt.ArrayLike) -> float:
    """||ours - expected|| / ||expected||, over the whole array."""
    a, b = np.asarray(ours, np.float64), np.asarray(expected, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def scaled_column(table: StepTable, column: str, factor: float) -> StepTable:
    """`table` with one per-step weight multiplied by `factor` at every step: a
    deliberately wrong sampler, to show that an equivalence test notices."""
    import keras  # the model tests' backend, chosen in conftest.py

    wrong = np.asarray(getattr(table, column)) * np.float32(factor)
    return table._replace(**{column: keras.ops.convert_to_tensor(wrong)})


def unmasked(rows: int) -> Blend:
    """The denoising loop's mask input for `rows` rows without a mask (mask 1)."""
    import keras

    from worker.engine.compiled import Blend

    shape = (rows, *latent_shape(*SIZE))
    zeros = keras.ops.zeros(shape)
    return Blend(zeros, keras.ops.ones((*shape[:3], 1)), zeros)
