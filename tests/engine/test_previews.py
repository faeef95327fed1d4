"""Previews while sampling: the x0 estimate's colours through a fixed 4x3 map."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from tests.engine.conftest import SIZE, STEPS
from tests.engine.helpers import max_diff, request
from worker.engine.engine import KerasEngine
from worker.engine.previews import LATENT_RGB, latent_preview

LATENT = (SIZE[1] // 8, SIZE[0] // 8)


class PreviewLog:
    def __init__(self) -> None:
        self.calls: list[tuple[int, npt.NDArray[np.uint8]]] = []

    def __call__(self, request_index: int, colours: npt.NDArray[np.uint8]) -> None:
        self.calls.append((request_index, colours.copy()))

    def last(self, request_index: int) -> npt.NDArray[np.uint8]:
        return [colours for index, colours in self.calls if index == request_index][-1]


def test_each_latent_channel_maps_to_its_row_of_colours() -> None:
    for channel in range(4):
        latent = np.zeros((1, 1, 4), np.float32)
        latent[0, 0, channel] = 1.0
        expected = np.clip((LATENT_RGB[channel] + 1) * 127.5, 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(latent_preview(latent)[0, 0], expected)
    saturated = latent_preview(np.full((2, 3, 4), 50.0, np.float32))
    assert saturated.shape == (2, 3, 3)
    assert saturated.dtype == np.uint8


@pytest.mark.model
def test_previews_come_per_request_per_chunk_and_end_at_the_decoded_latents(
    engine: KerasEngine, decoded: list[Any]
) -> None:
    previews = PreviewLog()
    requests = [request(seed=5), request(seed=6, count=2, prompt="a bowl of ramen")]
    engine.generate(requests, preview=previews)
    # steps_per_call is 1 in the session engine: one preview per request per step.
    assert [index for index, _ in previews.calls] == [0, 1] * STEPS
    assert previews.last(0).shape == (1, *LATENT, 3)
    assert previews.last(1).shape == (2, *LATENT, 3)
    assert all(colours.dtype == np.uint8 for _, colours in previews.calls)
    # The last step lands on the clean level, so the last x0 is what gets decoded.
    [latents] = decoded
    final = latent_preview(latents[:3])
    np.testing.assert_array_equal(np.concatenate([previews.last(0), previews.last(1)]), final)


@pytest.mark.model
def test_previews_follow_their_own_rows_and_leave_the_images_alone(engine: KerasEngine) -> None:
    alone, batched = PreviewLog(), PreviewLog()
    fox = request(seed=21, sampler="dpmpp_2m")
    ramen = request(seed=22, prompt="a bowl of ramen", sampler="dpmpp_2m")
    [without] = engine.generate([ramen])
    [with_alone] = engine.generate([ramen], preview=alone)
    _, with_batched = engine.generate([fox, ramen], preview=batched)
    np.testing.assert_array_equal(without, with_alone)
    assert max_diff(with_alone, with_batched) <= 1
    assert max_diff(alone.last(0), batched.last(1)) <= 1
    assert max_diff(batched.last(0), batched.last(1)) > 10
