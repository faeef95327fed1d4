"""The engine's compiled functions: the denoising loop, the decoder and the encoders.

Written in ``keras.ops``, so they run on either backend, and compiled by
``worker.engine.backend`` (``tf.function``, XLA when the precision says so, or
``jax.jit``), traced once per input shape: (size, batch bucket) for the loop and the
decoder, size for the image encoder, one shape for the text encoder. Every argument
that changes between calls is a tensor of a fixed shape, so nothing is traced again
after warm-up; ``traces`` counts tracings (the Python bodies run only while tracing).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, NamedTuple

import keras
import numpy as np
import numpy.typing as npt
from keras import ops

from worker.engine.backend import compile_function
from worker.engine.parts import MAX_PROMPT_LENGTH, Parts
from worker.engine.request import MAX_STEPS
from worker.engine.samplers import Schedule, coefficients, predict_x0, row_weights, update
from worker.engine.unet import KeysValues, UNet

TIMESTEP_DIM = 320


class StepTable(NamedTuple):
    """Per-step constants as float32 tensors padded to MAX_STEPS, so every schedule
    has the same shape and reuses the same compiled loop."""

    timestep: Any
    alpha: Any
    sigma: Any
    a: Any
    b1: Any
    b2: Any
    c2: Any
    second: Any  # 1.0 where the step may be second order
    # The level step i lands on (the next level; the last step's is clean: 1 and 0),
    # where masked rows put their kept cells back.
    alpha_next: Any
    sigma_next: Any


class Blend(NamedTuple):
    """Masked rows' inputs (inpainting, zoom out, pan), all (B, h/8, w/8, .) float32.
    Rows without a mask have mask 1 (redraw everything), which leaves them untouched, so
    masked and unmasked rows share one compiled program."""

    known: Any  # (.., 4) the encoded source image
    mask: Any  # (.., 1) in [0, 1]: the share of each latent cell to redraw
    noise: Any  # (.., 4) the row's own starting noise


def step_table(schedule: Schedule, order: int) -> StepTable:
    c = coefficients(schedule, order)

    def padded(values: npt.NDArray[Any]) -> Any:
        out = np.zeros(MAX_STEPS, dtype=np.float32)
        out[: len(values)] = values
        return ops.convert_to_tensor(out)

    landing = schedule.alphas_cumprod[1:]
    columns: tuple[npt.NDArray[Any], ...] = (
        *(schedule.timesteps, c.alpha, c.sigma, c.a, c.b1, c.b2, c.c2, c.second_order),
        *(np.sqrt(landing), np.sqrt(1.0 - landing)),
    )
    return StepTable(*(padded(column) for column in columns))


def blend(x: Any, rows: Blend, alpha: Any, sigma: Any) -> Any:
    """Masked latent blending: redrawn cells keep the sampler's `x`, kept cells become
    the known latent noised to the level `x` is at (alpha, sigma) with the row's noise.
    At the clean level (1, 0) the kept cells are exactly the known latent."""
    kept = alpha * rows.known + sigma * rows.noise
    return rows.mask * x + (1.0 - rows.mask) * kept


def timestep_embedding(timestep: Any, rows: int, max_period: float = 10000.0) -> Any:
    """KerasCV's ``_get_timestep_embedding``, same operations in the same order."""
    half = TIMESTEP_DIM // 2
    freqs = ops.exp(-math.log(max_period) * ops.arange(half, dtype="float32") / half)
    args = ops.reshape(timestep, [1]) * freqs
    embedding = ops.reshape(ops.concatenate([ops.cos(args), ops.sin(args)], 0), [1, -1])
    return ops.repeat(embedding, rows, axis=0)


def _per_row(values: Any) -> Any:
    """(B,) -> (B, 1, 1, 1), to scale latents row by row."""
    return ops.reshape(values, [-1, 1, 1, 1])


class CompiledModel:
    """The parts behind compiled entry points, with trace and UNet-call counters."""

    def __init__(self, parts: Parts, *, jit_compile: bool, small_conv_pixels: int) -> None:
        self.parts = parts
        self.unet = UNet(parts.diffusion_model, small_conv_pixels=small_conv_pixels)
        self.traces: Counter[str] = Counter()
        # Counted inside the compiled program, so it reports UNet runs, not Python calls.
        self.unet_calls = keras.Variable(0, dtype="int32", trainable=False, name="unet_calls")

        def compiled(function: Any, part: Any, counters: tuple[Any, ...] = ()) -> Any:
            return compile_function(
                function,
                part.variables,
                jit_compile=jit_compile,
                counters=counters,
                # What shapes the traced program beyond its inputs: the network (1.4's or
                # 2.1's) and the UNet's route choice.
                cache_key=f"{type(part).__name__}:small_conv_pixels={small_conv_pixels}",
            )

        self.denoise = compiled(self._denoise, parts.diffusion_model, (self.unet_calls,))
        self.decode = compiled(self._decode, parts.decoder)
        self.encode_text = compiled(self._encode_text, parts.text_encoder)
        self.encode_image = compiled(self._encode_image, parts.image_encoder)

    def unet_runs(self) -> int:
        """UNet calls so far (each of 2B rows: guidance is one call)."""
        return int(ops.convert_to_numpy(self.unet_calls.value))

    def _denoise(
        self,
        latents: Any,  # (B, h/8, w/8, 4) float32
        x0_prev: Any,  # the previous step's x0 (the 2M sampler's memory)
        contexts: Any,  # (2B, 77, 768): unconditional rows, then conditional rows
        guidance: Any,  # (B,)
        starts: Any,  # (B,) int32: the first step of each row
        table: StepTable,
        begin: Any,  # int32 scalars: run steps begin .. begin + count - 1
        count: Any,
        masks: Blend,
    ) -> tuple[Any, Any, Any]:
        self.traces["denoise"] += 1
        rows = latents.shape[0]
        scale = _per_row(guidance)
        kv = self.unet.cross_attention_kv(contexts)  # once per call, not per step

        def step(i: Any, runs: Any, x: Any, x0p: Any) -> tuple[Any, ...]:
            eps = self._guided_eps(x, table.timestep[i], kv, scale, rows)  # one UNet run
            x0 = predict_x0(x, eps, table.alpha[i], table.sigma[i])
            # Second order needs this row's own previous x0, so not on its first step.
            may = ops.logical_and(starts < i, table.second[i] > 0)
            second = _per_row(ops.cast(may, "float32"))
            b, c = row_weights(table.b1[i], table.b2[i], table.c2[i], second)
            x_next = update(x, x0, x0p, table.a[i], b, c)
            x_next = blend(x_next, masks, table.alpha_next[i], table.sigma_next[i])
            active = _per_row(starts <= i)  # img2img rows wait for their start step
            return i + 1, runs + 1, ops.where(active, x_next, x), ops.where(active, x0, x0p)

        _, runs, x, x0p = ops.while_loop(
            lambda i, runs, x, x0p: i < begin + count,
            step,
            (begin, ops.zeros((), "int32"), latents, x0_prev),
        )
        # Assigned after the loop: on JAX a variable written inside it would leak the
        # loop's tracer.
        self.unet_calls.assign_add(runs)
        # Fetching this flag waits for the whole chunk: progress reports finished work.
        return x, x0p, ops.all(ops.isfinite(x))

    def _guided_eps(self, x: Any, timestep: Any, kv: KeysValues, scale: Any, rows: int) -> Any:
        """Classifier-free guidance with one UNet call on [x; x] against [uncond; cond]
        (`kv` holds the unconditional rows' keys and values, then the conditional's)."""
        # Our UNet pass skips the input-shape check that pins the model to the size it
        # was built at; its weights do not depend on the size, so one UNet serves them all.
        both = self.unet(ops.concatenate([x, x], 0), timestep_embedding(timestep, 2 * rows), kv)
        eps_uncond, eps_cond = ops.split(ops.cast(both, "float32"), 2)
        return eps_uncond + scale * (eps_cond - eps_uncond)

    def _decode(self, latents: Any) -> Any:
        """Latents to uint8 pixels, truncating like KerasCV's ``astype("uint8")``."""
        self.traces["decode"] += 1
        decoded = ops.cast(self.parts.decoder.call(latents, training=False), "float32")
        return ops.cast(ops.clip((decoded + 1) / 2 * 255, 0.0, 255.0), "uint8")

    def _encode_text(self, tokens: Any) -> Any:
        self.traces["encode_text"] += 1
        positions = ops.expand_dims(ops.arange(MAX_PROMPT_LENGTH, dtype="int32"), 0)
        context = self.parts.text_encoder(
            {"tokens": tokens, "positions": positions}, training=False
        )
        return ops.cast(context, "float32")

    def _encode_image(self, images: Any) -> Any:
        """(1, h, w, 3) in [-1, 1] to the (1, h/8, w/8, 4) latent (the VAE's mean)."""
        self.traces["encode_image"] += 1
        return ops.cast(self.parts.image_encoder(images, training=False), "float32")
