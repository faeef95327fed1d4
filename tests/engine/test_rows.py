"""Requests to rows, batches and buckets; per-image noise."""

from __future__ import annotations

import numpy as np
import pytest

from tests.engine.helpers import request
from worker.engine.rows import batches, bucket_for, bucket_sizes, noise, start_step, to_rows


@pytest.mark.parametrize(
    ("max_batch", "buckets"),
    [
        (1, (1,)),
        (2, (1, 2)),
        (3, (1, 2, 3)),
        (4, (1, 2, 3, 4)),
        (6, (1, 2, 3, 4, 6)),
        (8, (1, 2, 3, 4, 8)),
        (12, (1, 2, 3, 4, 8, 12)),
        (16, (1, 2, 3, 4, 8, 16)),
    ],
)
def test_bucket_sizes(max_batch: int, buckets: tuple[int, ...]) -> None:
    assert bucket_sizes(max_batch) == buckets


def test_a_batch_goes_into_the_smallest_bucket_that_holds_it() -> None:
    assert [bucket_for(n, (1, 2, 4, 8)) for n in range(1, 9)] == [1, 2, 4, 4, 8, 8, 8, 8]


def test_rows_carry_consecutive_seeds_and_split_into_batches() -> None:
    rows = to_rows([request(count=3, seed=10), request(count=2, seed=0, guidance=3.0)])
    assert [(row.request, row.seed, row.guidance) for row in rows] == [
        (0, 10, 7.5),
        (0, 11, 7.5),
        (0, 12, 7.5),
        (1, 0, 3.0),
        (1, 1, 3.0),
    ]
    assert [len(batch) for batch in batches(rows, 4)] == [4, 1]


def test_img2img_starts_late_by_strength() -> None:
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    assert start_step(request(steps=25)) == 0
    assert start_step(request(steps=25, init_image=image, strength=0.8)) == 5
    assert start_step(request(steps=25, init_image=image, strength=1.0)) == 0
    assert start_step(request(steps=25, init_image=image, strength=0.0)) == 25


def test_noise_depends_only_on_the_seed() -> None:
    np.testing.assert_array_equal(noise(5, (16, 16, 4)), noise(5, (16, 16, 4)))
    assert not np.array_equal(noise(5, (16, 16, 4)), noise(6, (16, 16, 4)))
    assert noise(5, (16, 16, 4)).dtype == np.float32
    assert abs(float(noise(5, (64, 64, 4)).std()) - 1.0) < 0.05
