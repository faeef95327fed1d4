"""Our forward pass of KerasCV's UNet: its layers, weights and graph, two changes.

1. Cross-attention keys and values depend only on the text contexts, which stay the
   same for every step of a job. ``cross_attention_kv`` computes them once per compiled
   call (16 layers, 2 x 77 x 768 x C each) and every step reuses them; stock KerasCV
   recomputes them at every step.
2. On a CPU, TensorFlow's oneDNN convolutions are slow on small feature maps: at 2x2
   and 4x4 (the 1280-channel levels at 128x128) a 3x3 convolution took 33 and 37 ms
   where the same sum as one matrix product over its patches took 7 and 15 ms (batch 6,
   docs/engine.md). Convolutions whose output has at most ``small_conv_pixels`` pixels
   per image run as that product; larger ones, and all of them on a GPU (0), keep
   the layer's own kernel.

Everything else runs KerasCV's own layers, walked in the order of KerasCV's own graph
(``Functional._run_through_graph``), so the architecture is never restated here. The
result equals ``DiffusionModel.call`` up to float rounding (tests/engine/test_unet.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf
from keras_cv.src.models.stable_diffusion.diffusion_model import (
    CrossAttention,
    ResBlock,
    SpatialTransformer,
    Upsample,
)
from keras_cv.src.models.stable_diffusion.padded_conv2d import PaddedConv2D

# At or below this many output pixels per image a CPU convolution is one matrix product.
SMALL_CONV_PIXELS = 64

KeysValues = dict[int, tuple[tf.Tensor, tf.Tensor]]  # id(SpatialTransformer) -> (K, V)


class UNet:
    """Calls KerasCV's ``DiffusionModel`` with cached cross-attention and fast small convs."""

    def __init__(self, model: Any, *, small_conv_pixels: int) -> None:
        self.model = model
        self.small_conv_pixels = small_conv_pixels
        self._transformers = [
            layer for layer in model.layers if isinstance(layer, SpatialTransformer)
        ]

    def cross_attention_kv(self, contexts: tf.Tensor) -> KeysValues:
        """Every transformer's keys (rows, heads, head, 77) and values (rows, heads, 77,
        head) for `contexts` (rows, 77, 768), in the layout ``_cross_attention`` uses."""
        return {
            id(layer): _keys_values(layer.transformer_block.attn2, contexts)
            for layer in self._transformers
        }

    def __call__(self, latent: tf.Tensor, timestep_embedding: tf.Tensor, kv: KeysValues) -> Any:
        """The predicted noise for `latent` (rows, h/8, w/8, 4); `kv` from the contexts."""

        def operation(layer: Any) -> Callable[..., Any]:
            if isinstance(layer, ResBlock):
                return lambda inputs: self._res_block(layer, inputs)
            if isinstance(layer, SpatialTransformer):
                return lambda inputs: self._transformer(layer, inputs[0], kv[id(layer)])
            if isinstance(layer, Upsample):
                return lambda x: self._conv(layer.conv, layer.ups(x))
            if isinstance(layer, PaddedConv2D):
                return lambda x: self._conv(layer, x)
            return layer  # type: ignore[no-any-return]

        # The context input is unused: the transformers read `kv` instead.
        unused_context = tf.zeros((1, 1, 768))
        inputs = [latent, timestep_embedding, unused_context]
        return self.model._run_through_graph(inputs, operation_fn=operation)

    def _conv(self, layer: Any, x: tf.Tensor) -> tf.Tensor:
        """A PaddedConv2D, as one matrix product over patches when its output is small."""
        conv = layer.conv2d
        kernel_size, stride = conv.kernel_size[0], conv.strides[0]
        _, height, width, channels = x.shape
        out_h, out_w = height // stride, width // stride
        if out_h * out_w > self.small_conv_pixels:
            return layer(x)
        dtype = conv.compute_dtype
        padded = layer.padding2d(tf.cast(x, dtype))
        patches = padded
        if kernel_size > 1:
            size, step = [1, kernel_size, kernel_size, 1], [1, stride, stride, 1]
            patches = tf.image.extract_patches(padded, size, step, [1, 1, 1, 1], "VALID")
        # Patches are ordered (row, column, channel), the kernel's own layout.
        depth = kernel_size * kernel_size * channels
        kernel = tf.reshape(tf.cast(conv.kernel, dtype), [depth, -1])
        product = tf.matmul(tf.reshape(patches, [-1, depth]), kernel) + tf.cast(conv.bias, dtype)
        return tf.reshape(product, [-1, out_h, out_w, conv.filters])

    def _res_block(self, block: Any, inputs: list[tf.Tensor]) -> tf.Tensor:
        """KerasCV's ``ResBlock.call`` with its convolutions through ``_conv``."""
        x, embedding = inputs
        norm, act, conv = block.entry_flow
        h = self._conv(conv, act(norm(x)))
        for layer in block.embedding_flow:
            embedding = layer(embedding)
        h = h + embedding[:, None, None]
        norm, act, conv = block.exit_flow
        h = self._conv(conv, act(norm(h)))
        projection = block.residual_projection
        residual = self._conv(projection, x) if isinstance(projection, PaddedConv2D) else x
        return h + residual

    def _transformer(self, layer: Any, x: tf.Tensor, kv: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        """KerasCV's ``SpatialTransformer.call`` with the cross-attention's K and V given."""
        _, height, width, channels = x.shape
        h = self._project(layer.proj1, layer.norm(x))
        h = tf.reshape(h, [-1, height * width, channels])
        block = layer.transformer_block
        h = block.attn1(block.norm1(h), context=None) + h
        h = _cross_attention(block.attn2, block.norm2(h), kv) + h
        h = block.dense(block.geglu(block.norm3(h))) + h
        h = tf.reshape(h, [-1, height, width, channels])
        return self._project(layer.proj2, h) + x

    def _project(self, layer: Any, x: tf.Tensor) -> tf.Tensor:
        """proj1/proj2: 1x1 convolutions in SD 1.x, Dense layers in SD 2.x."""
        return self._conv(layer, x) if isinstance(layer, PaddedConv2D) else layer(x)


def _keys_values(attention: CrossAttention, contexts: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    heads, size, tokens = attention.num_heads, attention.head_size, contexts.shape[1]
    keys = tf.reshape(attention.to_k(contexts), [-1, tokens, heads, size])
    values = tf.reshape(attention.to_v(contexts), [-1, tokens, heads, size])
    return tf.transpose(keys, [0, 2, 3, 1]), tf.transpose(values, [0, 2, 1, 3])


def _cross_attention(
    attention: CrossAttention, x: tf.Tensor, kv: tuple[tf.Tensor, tf.Tensor]
) -> tf.Tensor:
    """KerasCV's ``CrossAttention.call`` against precomputed keys and values."""
    keys, values = kv
    heads, size, tokens = attention.num_heads, attention.head_size, x.shape[1]
    queries = tf.transpose(tf.reshape(attention.to_q(x), [-1, tokens, heads, size]), [0, 2, 1, 3])
    scores = tf.matmul(queries, tf.cast(keys, queries.dtype)) * attention.scale
    weights = keras.activations.softmax(scores)
    attended = tf.matmul(weights, tf.cast(values, weights.dtype))
    attended = tf.reshape(tf.transpose(attended, [0, 2, 1, 3]), [-1, tokens, heads * size])
    return attention.out_proj(attended)
