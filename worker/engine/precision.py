"""Which dtype policy and compiler the engine uses on this machine."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import keras

PRECISIONS: Final = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


@dataclass(frozen=True)
class Precision:
    policy: str  # a Keras dtype policy name
    jit_compile: bool  # XLA


def resolve_precision(precision: str, *, gpu: bool, jit_compile: bool | None = None) -> Precision:
    """``auto`` is mixed_float16 + XLA on a GPU, float32 without XLA on a CPU.

    On a CPU, half precision and XLA both make the UNet slower (TESTING.md), so explicit
    policies still only turn XLA on where there is a GPU unless `jit_compile` says so.
    (This is TensorFlow's choice; JAX always compiles with XLA.)
    """
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}.")
    policy = ("mixed_float16" if gpu else "float32") if precision == "auto" else precision
    return Precision(policy, gpu if jit_compile is None else jit_compile)


def graph_optimizer_options(policy: str, *, gpu: bool) -> dict[str, bool]:
    """Grappler switches for `policy` on this device (``tf.config.optimizer``).

    On a CPU, Grappler's remapper fuses float16 convolutions and matrix products into
    oneDNN kernels; on a Xeon with AMX one UNet call through them had not finished after
    ten minutes, where unfused it takes about 4 s (docs/engine.md). float32 and bfloat16
    ran normally with the remapper on, so only this case turns it off. The setting is
    process-wide; a worker process builds one engine.
    """
    return {"remapping": False} if policy == "mixed_float16" and not gpu else {}


@contextlib.contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Layers take the global policy when they are built; restore it afterwards so one
    engine's choice does not leak into the rest of the process."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
