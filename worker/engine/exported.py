"""On JAX, each compiled program kept as exported StableHLO, so a restarted worker skips
tracing too.

JAX's compilation cache keeps the machine code, but finding it means tracing the
Python code into a program and lowering it first: on a slow CPU about half of a cached
start (docs/engine.md, "Warm-up"). ``jax.export`` serializes the lowered program
(a few hundred KB: the weights are arguments, not constants); loading it takes
milliseconds, and compiling it finds the machine code in the compilation cache.

A file is named by a hash of everything that shapes the program: the function, the
caller's own settings (``cache_key``), the argument shapes and dtypes, Keras's dtype
policy, the device, the versions of JAX, Keras and KerasCV, and the source of this
package. Any change to the engine's code is a new name, never a stale program.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import keras
from jax import export

log = logging.getLogger(__name__)

ENGINE_SOURCE = Path(__file__).parent
SUFFIX = ".jaxexport"

Program = Callable[..., Any]


@functools.cache
def _code_fingerprint() -> str:
    """The versions and sources every exported program depends on."""
    digest = hashlib.sha256()
    for package in ("jax", "jaxlib", "keras", "keras-cv"):
        digest.update(f"{package}={importlib.metadata.version(package)};".encode())
    for source in sorted(ENGINE_SOURCE.rglob("*.py")):
        digest.update(source.name.encode() + source.read_bytes())
    device = jax.devices()[0]
    digest.update(f"{device.platform}:{device.device_kind}".encode())
    return digest.hexdigest()


def program_name(function: Program, cache_key: str, tree: Any, leaves: Sequence[Any]) -> str:
    shapes = ";".join(f"{tuple(leaf.shape)}:{leaf.dtype}" for leaf in leaves)
    policy = keras.config.dtype_policy().name
    parts = (_code_fingerprint(), function.__qualname__, cache_key, str(tree), shapes, policy)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def load_or_export(flat: Program, leaves: Sequence[Any], name: str, folder: Path | None) -> Program:
    """A jitted callable of `flat` (which takes the leaves): loaded from `folder` when an
    earlier start exported it, else exported now (and saved when there is a folder)."""
    path = None if folder is None else folder / f"{name}{SUFFIX}"
    exported = _load(path) if path is not None else None
    if exported is None:
        avals = [jax.ShapeDtypeStruct(leaf.shape, leaf.dtype) for leaf in leaves]  # type: ignore[no-untyped-call]
        exported = export.export(jax.jit(flat))(*avals)
        if path is not None:
            _save(path, exported.serialize())
    return jax.jit(exported.call)


def _load(path: Path) -> Any | None:
    try:
        return export.deserialize(bytearray(path.read_bytes()))
    except FileNotFoundError:
        return None
    except Exception as error:  # a truncated or foreign file: export it again
        log.warning("Ignoring the unreadable exported program %s (%s)", path.name, error)
        return None


def _save(path: Path, data: bytes | bytearray) -> None:
    """Written whole or not at all: a worker stopped mid-write leaves no half file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
            handle.write(data)
        os.replace(handle.name, path)
    except OSError as error:
        log.warning("Could not keep the exported program %s (%s)", path.name, error)
