"""Our DDIM equals KerasCV's own ``StableDiffusion.generate_image`` for the same parts,
text, noise, steps and guidance (CPU, float32)."""

from __future__ import annotations

import keras_cv
import numpy as np
import pytest

from tests.engine.conftest import SIZE
from tests.engine.helpers import max_diff, request
from worker.engine.engine import KerasEngine
from worker.engine.rows import latent_shape, noise

pytestmark = pytest.mark.model

STEPS = 3  # timesteps 999, 500, 0: the first, a middle and the last step of KerasCV's DDIM


@pytest.fixture(scope="module")
def stock(engine: KerasEngine) -> keras_cv.models.StableDiffusion:
    """KerasCV's pipeline holding the engine's parts: no second UNet, no download."""
    model = keras_cv.models.StableDiffusion(*SIZE, jit_compile=False)
    parts = engine.model.parts
    model._text_encoder = parts.text_encoder
    model._diffusion_model = parts.diffusion_model
    model._decoder = parts.decoder
    model._tokenizer = parts.tokenizer
    return model


@pytest.mark.parametrize("negative_prompt", ["", "blurry, low quality"])
def test_ddim_matches_keras_cv(
    engine: KerasEngine, stock: keras_cv.models.StableDiffusion, negative_prompt: str
) -> None:
    job = request(
        prompt="an astronaut riding a horse",
        negative_prompt=negative_prompt,
        count=2,
        steps=STEPS,
        guidance=7.5,
        seed=2024,
        sampler="ddim",
    )
    shape = latent_shape(job.width, job.height)
    expected = stock.generate_image(
        stock.encode_text(job.prompt),
        negative_prompt=negative_prompt or None,  # None = KerasCV's unconditional context
        batch_size=job.count,
        num_steps=job.steps,
        unconditional_guidance_scale=job.guidance,
        diffusion_noise=np.stack([noise(job.seed + i, shape) for i in range(job.count)]),
    )
    ours = engine.generate([job])[0]
    assert ours.shape == expected.shape
    assert max_diff(ours, expected) <= 1
