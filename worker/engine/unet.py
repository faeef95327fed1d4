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
   the layer's own kernel. The patches are strided slices of the padded input, one
   per kernel tap, so the route is plain ``keras.ops`` on every backend.
3. Self-attention without the full score matrix where that matters: at 512x512 each
   self-attention of the first level builds 8 x 4096 x 4096 scores per row (512 MB per
   row in float32). On JAX it is ``keras.ops.dot_product_attention``, which on a GPU is
   cuDNN's fused flash attention (no score matrix in memory); elsewhere the queries go
   in chunks of ``query_chunk`` rows, each one softmax over all keys, the same sums.

Everything else runs KerasCV's own layers, walked in the order of KerasCV's own graph
(``Functional._run_through_graph``), so the architecture is never restated here. The
result equals ``DiffusionModel.call`` up to float rounding (tests/engine/test_unet.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
from keras import ops

from worker.engine.kerascv import stable_diffusion_module

_diffusion_model = stable_diffusion_module("diffusion_model")
CrossAttention = _diffusion_model.CrossAttention
ResBlock = _diffusion_model.ResBlock
SpatialTransformer = _diffusion_model.SpatialTransformer
Upsample = _diffusion_model.Upsample
PaddedConv2D = stable_diffusion_module("padded_conv2d").PaddedConv2D

# At or below this many output pixels per image a CPU convolution is one matrix product.
SMALL_CONV_PIXELS = 64
# Query rows per chunk of an unfused self-attention: a 4096-token (512x512) attention
# holds a quarter of its scores at a time.
QUERY_CHUNK = 1024

KeysValues = dict[int, tuple[Any, Any]]  # id(SpatialTransformer) -> (K, V)


class UNet:
    """Calls KerasCV's ``DiffusionModel`` with cached cross-attention and fast small convs."""

    def __init__(
        self,
        model: Any,
        *,
        small_conv_pixels: int,
        fused_attention: bool | None = None,
        query_chunk: int = QUERY_CHUNK,
    ) -> None:
        self.model = model
        self.small_conv_pixels = small_conv_pixels
        # None: fused where the backend has a fused kernel (JAX), chunks elsewhere.
        self.fused_attention = (
            keras.backend.backend() == "jax" if fused_attention is None else fused_attention
        )
        self.query_chunk = query_chunk
        self._transformers = [
            layer for layer in model.layers if isinstance(layer, SpatialTransformer)
        ]

    def cross_attention_kv(self, contexts: Any) -> KeysValues:
        """Every transformer's keys (rows, heads, head, 77) and values (rows, heads, 77,
        head) for `contexts` (rows, 77, 768), in the layout ``_cross_attention`` uses."""
        return {
            id(layer): _keys_values(layer.transformer_block.attn2, contexts)
            for layer in self._transformers
        }

    def __call__(self, latent: Any, timestep_embedding: Any, kv: KeysValues) -> Any:
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
        unused_context = ops.zeros((1, 1, 768))
        inputs = [latent, timestep_embedding, unused_context]
        return self.model._run_through_graph(inputs, operation_fn=operation)

    def _conv(self, layer: Any, x: Any) -> Any:
        """A PaddedConv2D, as one matrix product over patches when its output is small."""
        conv = layer.conv2d
        kernel_size, stride = conv.kernel_size[0], conv.strides[0]
        _, height, width, channels = x.shape
        out_h, out_w = height // stride, width // stride
        if out_h * out_w > self.small_conv_pixels:
            return layer(x)
        dtype = conv.compute_dtype
        padded = layer.padding2d(ops.cast(x, dtype))
        # One strided slice per kernel tap, side by side on the channel axis: patches
        # ordered (row, column, channel), the kernel's own layout.
        taps = [
            padded[:, dy : dy + stride * out_h : stride, dx : dx + stride * out_w : stride, :]
            for dy in range(kernel_size)
            for dx in range(kernel_size)
        ]
        patches = ops.concatenate(taps, axis=-1) if len(taps) > 1 else taps[0]
        depth = kernel_size * kernel_size * channels
        kernel = ops.reshape(ops.cast(conv.kernel, dtype), [depth, -1])
        product = ops.matmul(ops.reshape(patches, [-1, depth]), kernel) + ops.cast(conv.bias, dtype)
        return ops.reshape(product, [-1, out_h, out_w, conv.filters])

    def _res_block(self, block: Any, inputs: list[Any]) -> Any:
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

    def _transformer(self, layer: Any, x: Any, kv: tuple[Any, Any]) -> Any:
        """KerasCV's ``SpatialTransformer.call`` with the cross-attention's K and V given."""
        _, height, width, channels = x.shape
        h = self._project(layer.proj1, layer.norm(x))
        h = ops.reshape(h, [-1, height * width, channels])
        block = layer.transformer_block
        h = self.self_attention(block.attn1, block.norm1(h)) + h
        h = _cross_attention(block.attn2, block.norm2(h), kv) + h
        h = block.dense(block.geglu(block.norm3(h))) + h
        h = ops.reshape(h, [-1, height, width, channels])
        return self._project(layer.proj2, h) + x

    def self_attention(self, attention: Any, x: Any) -> Any:
        """KerasCV's ``CrossAttention.call`` with ``context=None``, fused or in chunks."""
        heads, size, tokens = attention.num_heads, attention.head_size, x.shape[1]

        def split(projection: Any) -> Any:  # (rows, tokens, heads, size)
            return ops.reshape(projection(x), [-1, tokens, heads, size])

        q, k, v = split(attention.to_q), split(attention.to_k), split(attention.to_v)
        if self.fused_attention:
            attended = ops.dot_product_attention(q, k, v, scale=attention.scale)
        else:
            keys = ops.transpose(k, [0, 2, 3, 1])  # (rows, heads, size, tokens)
            values = ops.transpose(v, [0, 2, 1, 3])  # (rows, heads, tokens, size)
            chunks = [
                _attend(q[:, start : start + self.query_chunk], keys, values, attention.scale)
                for start in range(0, tokens, self.query_chunk)
            ]
            attended = ops.concatenate(chunks, axis=1) if len(chunks) > 1 else chunks[0]
        return attention.out_proj(ops.reshape(attended, [-1, tokens, heads * size]))

    def _project(self, layer: Any, x: Any) -> Any:
        """proj1/proj2: 1x1 convolutions in SD 1.x, Dense layers in SD 2.x."""
        return self._conv(layer, x) if isinstance(layer, PaddedConv2D) else layer(x)


def _keys_values(attention: Any, contexts: Any) -> tuple[Any, Any]:
    heads, size, tokens = attention.num_heads, attention.head_size, contexts.shape[1]
    keys = ops.reshape(attention.to_k(contexts), [-1, tokens, heads, size])
    values = ops.reshape(attention.to_v(contexts), [-1, tokens, heads, size])
    return ops.transpose(keys, [0, 2, 3, 1]), ops.transpose(values, [0, 2, 1, 3])


def _attend(queries: Any, keys: Any, values: Any, scale: float) -> Any:
    """(rows, chunk, heads, size) queries against all keys: the attended values in the
    queries' layout, as KerasCV computes them (scores, softmax, product)."""
    queries = ops.transpose(queries, [0, 2, 1, 3])
    scores = ops.matmul(queries, ops.cast(keys, queries.dtype)) * scale
    weights = keras.activations.softmax(scores)
    attended = ops.matmul(weights, ops.cast(values, weights.dtype))
    return ops.transpose(attended, [0, 2, 1, 3])


def _cross_attention(attention: Any, x: Any, kv: tuple[Any, Any]) -> Any:
    """KerasCV's ``CrossAttention.call`` against precomputed keys and values."""
    keys, values = kv
    heads, size, tokens = attention.num_heads, attention.head_size, x.shape[1]
    queries = ops.reshape(attention.to_q(x), [-1, tokens, heads, size])
    queries = ops.transpose(queries, [0, 2, 1, 3])
    scores = ops.matmul(queries, ops.cast(keys, queries.dtype)) * attention.scale
    weights = keras.activations.softmax(scores)
    attended = ops.matmul(weights, ops.cast(values, weights.dtype))
    attended = ops.reshape(ops.transpose(attended, [0, 2, 1, 3]), [-1, tokens, heads * size])
    return attention.out_proj(attended)
