"""Our DDIM equals KerasCV's own ``generate_image`` for the same parts, text, noise, steps
and guidance (CPU, float32): the latents before decoding within a relative tolerance, and
the decoded pixels within one uint8 level. For each model: Stable Diffusion 1.4 against
``StableDiffusion``, 2.1 against ``StableDiffusionV2``.

The latent comparison is the sharp one: a 1 % error in an update weight can stay within
one uint8 level of pixels, and the perturbation test checks that it fails the latents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from tests.engine.conftest import SIZE, recording_decodes
from tests.engine.helpers import max_diff, relative_error, request, scaled_column
from worker.engine import GenerationRequest
from worker.engine import engine as engine_module
from worker.engine.engine import KerasEngine
from worker.engine.kerascv import stable_diffusion
from worker.engine.rows import latent_shape, noise

pytestmark = pytest.mark.model

STEPS = 3  # timesteps 999, 500, 0: the first, a middle and the last step of KerasCV's DDIM
# Float32 rounding of the same sums in another order: measured 1.7e-6 and 2.0e-6. A 1 %
# error in the weight of the latent (a) gave 3.2e-4, in the weight of x0 (b1) 3.0e-2.
LATENT_TOLERANCE = 2e-5


class RecordingDecoder:
    """Stands in for a decoder in front of KerasCV's pipeline: keeps the latents it is
    handed, then decodes them with the real decoder."""

    def __init__(self, decoder: Any) -> None:
        self.decoder = decoder
        self.latents: list[npt.NDArray[np.float32]] = []

    def predict_on_batch(self, latents: Any) -> Any:
        self.latents.append(np.asarray(latents))
        return self.decoder.predict_on_batch(latents)


@dataclass
class StockRun:
    latents: npt.NDArray[np.float32]
    pixels: npt.NDArray[np.uint8]


# Our model name -> KerasCV's pipeline class.
PIPELINES = {"sd14": "StableDiffusion", "sd21": "StableDiffusionV2"}


@pytest.fixture(scope="module", params=list(PIPELINES))
def subject(request: pytest.FixtureRequest) -> KerasEngine:
    """The session's engine of each model in turn (sd14 first: built once, kept)."""
    engine: KerasEngine = request.getfixturevalue(
        "engine" if request.param == "sd14" else f"{request.param}_engine"
    )
    assert list(engine.models) == [request.param]
    return engine


@pytest.fixture
def decoded(subject: KerasEngine) -> Iterator[list[npt.NDArray[np.float32]]]:
    with recording_decodes(subject) as seen:
        yield seen


@pytest.fixture(scope="module")
def stock(subject: KerasEngine) -> Any:
    """KerasCV's pipeline holding the engine's parts: no second UNet, no download."""
    [name] = subject.models
    model = getattr(stable_diffusion(), PIPELINES[name])(*SIZE, jit_compile=False)
    parts = subject.model.parts
    model._text_encoder = parts.text_encoder
    model._diffusion_model = parts.diffusion_model
    model._tokenizer = parts.tokenizer
    return model


def job(negative_prompt: str, model: str) -> GenerationRequest:
    return request(
        model=model,
        prompt="an astronaut riding a horse",
        negative_prompt=negative_prompt,
        count=2,
        steps=STEPS,
        guidance=7.5,
        seed=2024,
        sampler="ddim",
    )


@pytest.fixture(scope="module")
def stock_runs(subject: KerasEngine, stock: Any) -> dict[str, StockRun]:
    """KerasCV's latents and pixels for both negative prompts, computed once."""
    [name] = subject.models
    runs = {}
    for negative_prompt in ("", "blurry, low quality"):
        wanted = job(negative_prompt, name)
        shape = latent_shape(wanted.width, wanted.height)
        stock._decoder = RecordingDecoder(subject.model.parts.decoder)
        pixels = stock.generate_image(
            stock.encode_text(wanted.prompt),
            negative_prompt=negative_prompt or None,  # None = KerasCV's unconditional context
            batch_size=wanted.count,
            num_steps=wanted.steps,
            unconditional_guidance_scale=wanted.guidance,
            diffusion_noise=np.stack([noise(wanted.seed + i, shape) for i in range(wanted.count)]),
        )
        [latents] = stock._decoder.latents
        runs[negative_prompt] = StockRun(latents, pixels)
    return runs


def ours(
    engine: KerasEngine, decoded: list[npt.NDArray[np.float32]], negative_prompt: str
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.uint8]]:
    decoded.clear()
    [model] = engine.models
    pixels = engine.generate([job(negative_prompt, model)])[0]
    [latents] = decoded
    return latents[: pixels.shape[0]], pixels


@pytest.mark.parametrize("negative_prompt", ["", "blurry, low quality"])
def test_ddim_latents_and_pixels_match_keras_cv(
    subject: KerasEngine,
    stock_runs: dict[str, StockRun],
    decoded: list[npt.NDArray[np.float32]],
    negative_prompt: str,
) -> None:
    expected = stock_runs[negative_prompt]
    latents, pixels = ours(subject, decoded, negative_prompt)
    assert latents.shape == expected.latents.shape
    assert relative_error(latents, expected.latents) <= LATENT_TOLERANCE
    assert pixels.shape == expected.pixels.shape
    assert max_diff(pixels, expected.pixels) <= 1


@pytest.mark.parametrize("column", ["a", "b1"])
def test_a_one_percent_error_in_an_update_weight_fails_the_latent_comparison(
    subject: KerasEngine,
    stock_runs: dict[str, StockRun],
    decoded: list[npt.NDArray[np.float32]],
    monkeypatch: pytest.MonkeyPatch,
    column: str,
) -> None:
    """The engine with one DDIM weight 1 % off, every step: the comparison above must see it."""
    exact: Callable[..., Any] = engine_module.step_table
    monkeypatch.setattr(
        engine_module, "step_table", lambda *args: scaled_column(exact(*args), column, 1.01)
    )
    latents, _ = ours(subject, decoded, "")
    assert relative_error(latents, stock_runs[""].latents) > LATENT_TOLERANCE
