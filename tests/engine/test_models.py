"""One engine, several models: each request is made by the model it names, exactly as
that model alone makes it; one call takes one model; a model the engine does not hold is
refused in one sentence."""

from __future__ import annotations

import logging

import pytest

from tests.engine.conftest import SIZE
from tests.engine.helpers import max_diff, request
from worker.engine.engine import KerasEngine

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def both(engine: KerasEngine, sd21_engine: KerasEngine) -> KerasEngine:
    """Both models in one engine, on the session's parts (no third UNet). Batches of one,
    so its warm-up is one program per model."""
    parts = {"sd14": engine.model.parts, "sd21": sd21_engine.model.parts}
    return KerasEngine(
        parts,
        sizes=[SIZE],
        precision=engine.precision,
        max_batch=1,
        steps_per_call=1,
        small_conv_pixels=engine.model.unet.small_conv_pixels,
    )


def test_warm_up_compiles_every_model(both: KerasEngine, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="worker.engine.engine"):
        both.warm_up(background=False)
    for name, model in both.models.items():
        assert model.traces["denoise"] == 1, name
        assert model.traces["encode_image"] == 1, name
        assert any(f"128x128 for 1 image(s) of {name} in" in r.getMessage() for r in caplog.records)


def test_each_request_is_made_by_its_model(
    both: KerasEngine, engine: KerasEngine, sd21_engine: KerasEngine
) -> None:
    old, new = request(model="sd14", seed=5), request(model="sd21", seed=5)
    [from_old] = both.generate([old])
    [from_new] = both.generate([new])
    assert max_diff(from_old, engine.generate([old])[0]) <= 1
    assert max_diff(from_new, sd21_engine.generate([new])[0]) <= 1
    # Same prompt, seed and noise: only the model differs, and so do the pictures.
    assert max_diff(from_old, from_new) > 10


def test_one_call_takes_one_model(both: KerasEngine) -> None:
    with pytest.raises(ValueError, match="must share model, width, height, steps and sampler"):
        both.generate([request(model="sd14"), request(model="sd21")])


@pytest.mark.parametrize("model", ["sd21", "sd99"])
def test_a_model_the_engine_does_not_hold_is_refused(engine: KerasEngine, model: str) -> None:
    refusal = rf"Model '{model}' is not one this worker loaded \(sd14\)\."
    with pytest.raises(ValueError, match=refusal):
        engine.generate([request(model=model)])
