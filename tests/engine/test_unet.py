"""Our UNet pass equals KerasCV's ``DiffusionModel.call`` (float32, CPU), whichever
convolutions take the matrix-product route, at square and non-square sizes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import tensorflow as tf

from worker.engine.engine import KerasEngine
from worker.engine.unet import UNet

pytestmark = pytest.mark.model


def _inputs(rows: int, width: int, height: int) -> tuple[Any, Any, Any]:
    generator = np.random.default_rng(7)
    latent = generator.standard_normal((rows, height // 8, width // 8, 4))
    embedding = generator.standard_normal((rows, 320))
    contexts = generator.standard_normal((rows, 77, 768))
    return tuple(tf.constant(array, tf.float32) for array in (latent, embedding, contexts))  # type: ignore[return-value]


def _stock(model: Any, latent: Any, embedding: Any, contexts: Any) -> Any:
    inputs = {"latent": latent, "timestep_embedding": embedding, "context": contexts}
    return model.call(inputs, training=False).numpy()


def _ours(unet: UNet, latent: Any, embedding: Any, contexts: Any) -> Any:
    return unet(latent, embedding, unet.cross_attention_kv(contexts)).numpy()


@pytest.mark.parametrize("small_conv_pixels", [0, 64, 10**6])
@pytest.mark.parametrize(("width", "height"), [(128, 128), (192, 128)])
def test_our_unet_pass_equals_keras_cv(
    engine: KerasEngine, small_conv_pixels: int, width: int, height: int
) -> None:
    model = engine.model.parts.diffusion_model
    unet = UNet(model, small_conv_pixels=small_conv_pixels)
    inputs = _inputs(2, width, height)
    expected = _stock(model, *inputs)
    ours = _ours(unet, *inputs)
    assert ours.shape == expected.shape == (2, height // 8, width // 8, 4)
    # Sums in another order: float32 rounding only, far below any visible change.
    assert np.abs(ours - expected).max() <= 1e-5 * np.abs(expected).max()


def _op_types(unet: UNet, width: int) -> list[str]:
    latent, embedding, contexts = _inputs(1, width, width)
    graph = (
        tf.function(lambda x, t, c: unet(x, t, unet.cross_attention_kv(c)))
        .get_concrete_function(latent, embedding, contexts)
        .graph
    )
    return [op.type for op in graph.get_operations()]


def test_small_outputs_take_the_matrix_product_route(engine: KerasEngine) -> None:
    """At 128x128 the 8x8, 4x4 and 2x2 levels' convolutions become products; nothing
    does with the route off (so the equality test above covers both paths)."""
    model = engine.model.parts.diffusion_model
    routed = _op_types(UNet(model, small_conv_pixels=64), 128)
    plain = _op_types(UNet(model, small_conv_pixels=0), 128)
    assert "ExtractImagePatches" not in plain
    assert routed.count("ExtractImagePatches") >= 20
    assert routed.count("Conv2D") < plain.count("Conv2D")
