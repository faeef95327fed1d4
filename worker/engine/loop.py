"""The engine's compiled functions: the denoising loop, the decoder and the encoders.

Each is a ``tf.function`` (XLA when the precision says so), traced once per input
shape: (size, batch bucket) for the loop and the decoder, size for the image encoder,
one shape for the text encoder. Every argument that changes between calls is a
tensor of a fixed shape, so nothing is traced again after warm-up; ``traces`` counts
tracings (the Python bodies run only while tracing).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import tensorflow as tf

from worker.engine.parts import MAX_PROMPT_LENGTH, Parts
from worker.engine.request import MAX_STEPS
from worker.engine.samplers import Schedule, coefficients, predict_x0, row_weights, update
from worker.engine.unet import KeysValues, UNet

TIMESTEP_DIM = 320


class StepTable(NamedTuple):
    """Per-step constants as float32 tensors padded to MAX_STEPS, so every schedule
    has the same shape and reuses the same compiled loop."""

    timestep: tf.Tensor
    alpha: tf.Tensor
    sigma: tf.Tensor
    a: tf.Tensor
    b1: tf.Tensor
    b2: tf.Tensor
    c2: tf.Tensor
    second: tf.Tensor  # 1.0 where the step may be second order


def step_table(schedule: Schedule, order: int) -> StepTable:
    c = coefficients(schedule, order)

    def padded(values: npt.NDArray[Any]) -> tf.Tensor:
        out = np.zeros(MAX_STEPS, dtype=np.float32)
        out[: len(values)] = values
        return tf.constant(out)

    columns = (schedule.timesteps, c.alpha, c.sigma, c.a, c.b1, c.b2, c.c2, c.second_order)
    return StepTable(*(padded(column) for column in columns))


def timestep_embedding(timestep: tf.Tensor, rows: int, max_period: float = 10000.0) -> tf.Tensor:
    """KerasCV's ``_get_timestep_embedding``, same operations in the same order."""
    half = TIMESTEP_DIM // 2
    freqs = tf.exp(-math.log(max_period) * tf.range(half, dtype=tf.float32) / half)
    args = tf.reshape(timestep, [1]) * freqs
    embedding = tf.reshape(tf.concat([tf.cos(args), tf.sin(args)], 0), [1, -1])
    return tf.repeat(embedding, rows, axis=0)


def _per_row(values: tf.Tensor) -> tf.Tensor:
    """(B,) -> (B, 1, 1, 1), to scale latents row by row."""
    return tf.reshape(values, [-1, 1, 1, 1])


class CompiledModel:
    """The parts behind compiled entry points, with trace and UNet-call counters."""

    def __init__(self, parts: Parts, *, jit_compile: bool, small_conv_pixels: int) -> None:
        self.parts = parts
        self.unet = UNet(parts.diffusion_model, small_conv_pixels=small_conv_pixels)
        self.traces: Counter[str] = Counter()
        # Counted inside the graph, so it reports UNet runs, not Python calls.
        self.unet_calls = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.denoise = tf.function(self._denoise, jit_compile=jit_compile)
        self.decode = tf.function(self._decode, jit_compile=jit_compile)
        self.encode_text = tf.function(self._encode_text, jit_compile=jit_compile)
        self.encode_image = tf.function(self._encode_image, jit_compile=jit_compile)

    def _denoise(
        self,
        latents: tf.Tensor,  # (B, h/8, w/8, 4) float32
        x0_prev: tf.Tensor,  # the previous step's x0 (the 2M sampler's memory)
        contexts: tf.Tensor,  # (2B, 77, 768): unconditional rows, then conditional rows
        guidance: tf.Tensor,  # (B,)
        starts: tf.Tensor,  # (B,) int32: the first step of each row
        table: StepTable,
        begin: tf.Tensor,  # int32 scalars: run steps begin .. begin + count - 1
        count: tf.Tensor,
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        self.traces["denoise"] += 1
        rows = latents.shape[0]
        scale = _per_row(guidance)
        kv = self.unet.cross_attention_kv(contexts)  # once per call, not per step

        def step(i: tf.Tensor, x: tf.Tensor, x0p: tf.Tensor) -> tuple[tf.Tensor, ...]:
            eps = self._guided_eps(x, table.timestep[i], kv, scale, rows)
            x0 = predict_x0(x, eps, table.alpha[i], table.sigma[i])
            # Second order needs this row's own previous x0, so not on its first step.
            second = _per_row(tf.cast((starts < i) & (table.second[i] > 0), tf.float32))
            b, c = row_weights(table.b1[i], table.b2[i], table.c2[i], second)
            x_next = update(x, x0, x0p, table.a[i], b, c)
            active = _per_row(starts <= i)  # img2img rows wait for their start step
            return i + 1, tf.where(active, x_next, x), tf.where(active, x0, x0p)

        _, x, x0p = tf.while_loop(
            lambda i, x, x0p: i < begin + count, step, (begin, latents, x0_prev)
        )
        # Fetching this flag waits for the whole chunk: progress reports finished work.
        return x, x0p, tf.reduce_all(tf.math.is_finite(x))

    def _guided_eps(
        self, x: tf.Tensor, timestep: tf.Tensor, kv: KeysValues, scale: tf.Tensor, rows: int
    ) -> tf.Tensor:
        """Classifier-free guidance with one UNet call on [x; x] against [uncond; cond]
        (`kv` holds the unconditional rows' keys and values, then the conditional's)."""
        # Our UNet pass skips the input-shape check that pins the model to the size it
        # was built at; its weights do not depend on the size, so one UNet serves them all.
        both = self.unet(tf.concat([x, x], 0), timestep_embedding(timestep, 2 * rows), kv)
        self.unet_calls.assign_add(1)
        eps_uncond, eps_cond = tf.split(tf.cast(both, tf.float32), 2)
        return eps_uncond + scale * (eps_cond - eps_uncond)

    def _decode(self, latents: tf.Tensor) -> tf.Tensor:
        """Latents to uint8 pixels, truncating like KerasCV's ``astype("uint8")``."""
        self.traces["decode"] += 1
        decoded = tf.cast(self.parts.decoder.call(latents, training=False), tf.float32)
        return tf.cast(tf.clip_by_value((decoded + 1) / 2 * 255, 0.0, 255.0), tf.uint8)

    def _encode_text(self, tokens: tf.Tensor) -> tf.Tensor:
        self.traces["encode_text"] += 1
        positions = tf.range(MAX_PROMPT_LENGTH, dtype=tf.int32)[tf.newaxis]
        context = self.parts.text_encoder(
            {"tokens": tokens, "positions": positions}, training=False
        )
        return tf.cast(context, tf.float32)

    def _encode_image(self, images: tf.Tensor) -> tf.Tensor:
        """(1, h, w, 3) in [-1, 1] to the (1, h/8, w/8, 4) latent (the VAE's mean)."""
        self.traces["encode_image"] += 1
        return tf.cast(self.parts.image_encoder(images, training=False), tf.float32)
