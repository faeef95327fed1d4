"""Our UNet pass equals KerasCV's ``DiffusionModel.call`` (float32, CPU), whichever
convolutions take the matrix-product route, at square and non-square sizes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import pytest
from keras import ops

from worker.engine.engine import KerasEngine
from worker.engine.unet import UNet

pytestmark = pytest.mark.model


def _inputs(rows: int, width: int, height: int) -> tuple[Any, Any, Any]:
    generator = np.random.default_rng(7)
    latent = generator.standard_normal((rows, height // 8, width // 8, 4))
    embedding = generator.standard_normal((rows, 320))
    contexts = generator.standard_normal((rows, 77, 768))
    return tuple(ops.convert_to_tensor(array, "float32") for array in (latent, embedding, contexts))  # type: ignore[return-value]


def _stock(model: Any, latent: Any, embedding: Any, contexts: Any) -> Any:
    inputs = {"latent": latent, "timestep_embedding": embedding, "context": contexts}
    return ops.convert_to_numpy(model.call(inputs, training=False))


def _ours(unet: UNet, latent: Any, embedding: Any, contexts: Any) -> Any:
    return ops.convert_to_numpy(unet(latent, embedding, unet.cross_attention_kv(contexts)))


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


def convolutions(function: Callable[..., Any], *args: Any) -> int:
    """Convolution operations in `function`'s traced program, on the running backend."""
    if keras.backend.backend() == "jax":
        import jax

        def count(jaxpr: Any) -> int:
            total = 0
            for equation in jaxpr.eqns:
                total += equation.primitive.name == "conv_general_dilated"
                for value in equation.params.values():
                    inner = getattr(value, "jaxpr", None)
                    if inner is not None:
                        total += count(getattr(inner, "jaxpr", inner))
            return total

        return count(jax.make_jaxpr(function)(*args).jaxpr)
    import tensorflow as tf

    graph = tf.function(function).get_concrete_function(*args).graph
    return sum(op.type == "Conv2D" for op in graph.get_operations())


def _convolutions(unet: UNet, width: int) -> int:
    return convolutions(
        lambda x, t, c: unet(x, t, unet.cross_attention_kv(c)), *_inputs(1, width, width)
    )


def test_small_outputs_take_the_matrix_product_route(engine: KerasEngine) -> None:
    """At 128x128 the 8x8, 4x4 and 2x2 levels' convolutions become products; nothing
    does with the route off (so the equality test above covers both paths)."""
    model = engine.model.parts.diffusion_model
    routed = _convolutions(UNet(model, small_conv_pixels=64), 128)
    plain = _convolutions(UNet(model, small_conv_pixels=0), 128)
    assert plain - routed >= 20


@pytest.mark.parametrize(
    ("fused", "chunk"),
    [(True, 1024), (False, 1024), (False, 64), (False, 100)],
    ids=["fused", "plain", "chunks of 64", "uneven chunks"],
)
def test_every_self_attention_path_equals_keras_cv_s(
    engine: KerasEngine, fused: bool, chunk: int
) -> None:
    """`keras.ops.dot_product_attention` (cuDNN flash attention on a JAX GPU) and query
    chunks against KerasCV's own layer, on the first level's 256-token attention."""
    model = engine.model.parts.diffusion_model
    unet = UNet(model, small_conv_pixels=0, fused_attention=fused, query_chunk=chunk)
    layer = unet._transformers[0].transformer_block.attn1
    x = ops.convert_to_tensor(np.random.default_rng(3).standard_normal((2, 256, 320)), "float32")
    expected = ops.convert_to_numpy(layer(x))
    ours = ops.convert_to_numpy(unet.self_attention(layer, x))
    assert np.abs(ours - expected).max() <= 1e-5 * np.abs(expected).max()
