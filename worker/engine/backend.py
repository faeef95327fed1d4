"""The Keras backend the engine runs on, and the thin layer that compiles for it.

``IMAGINE_BACKEND`` picks ``tensorflow`` (the default, the worker image's) or ``jax``.
Keras reads ``KERAS_BACKEND`` once, when it is first imported, so ``select_backend``
must run before anything imports Keras; ``build_engine`` calls it first.

``compile_function`` turns a Python function that calls Keras layers into one compiled
entry point: ``tf.function`` (XLA when asked) on TensorFlow; on JAX ``jax.jit`` of a
stateless version, where every variable the function reads is an argument (through a
``keras.StatelessScope``) instead of a constant baked into the program, and the
variables it assigns (the engine's counters) come back as outputs and are written
after the call. The variables' values are read at every call, not once: Keras's
``predict_on_batch`` on JAX donates them and replaces them with new buffers.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

BACKENDS: Final = ("tensorflow", "jax")

log = logging.getLogger(__name__)


# Where exported JAX programs are kept (worker/engine/exported.py); None keeps them in
# memory only. Set with the compilation cache, before anything compiles.
_export_folder: Path | None = None


def select_backend(name: str) -> None:
    """Makes Keras load on `name`; a ValueError if Keras already runs on another one."""
    if name not in BACKENDS:
        raise ValueError(f"Unknown backend {name!r}; choose one of {', '.join(BACKENDS)}.")
    if "keras" in sys.modules:
        running = sys.modules["keras"].backend.backend()
        if running != name:
            raise ValueError(
                f"Keras is already running on {running}; the {name} backend must be chosen "
                "before Keras is imported."
            )
        return
    os.environ["KERAS_BACKEND"] = name


def use_compilation_cache(folder: Path, backend: str) -> None:
    """Keeps compiled XLA programs in `folder` (on the models volume), so a restarted
    worker loads them instead of compiling again. Call before the backend compiles
    anything. TensorFlow reads its flag when XLA first starts, so it goes into
    ``TF_XLA_FLAGS`` (it caches only what XLA compiles: ``jit_compile=True``); JAX's
    cache is a config option."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        log.warning("No compilation cache (%s): every start compiles from scratch", error)
        return
    if backend == "tensorflow":
        flag = f"--tf_xla_persistent_cache_directory={folder}"
        flags = os.environ.get("TF_XLA_FLAGS", "")
        if "tf_xla_persistent_cache_directory" not in flags:
            os.environ["TF_XLA_FLAGS"] = f"{flags} {flag}".strip()
        return
    import jax

    global _export_folder
    _export_folder = folder / "exported"
    options: dict[str, Any] = {
        "jax_compilation_cache_dir": str(folder),
        # Every program: the small ones (text encoder) compile in well under JAX's
        # default one-second threshold on a GPU, but still add up over 28 programs.
        "jax_persistent_cache_min_compile_time_secs": 0.0,
        "jax_persistent_cache_min_entry_size_bytes": 0,
    }
    for name, value in options.items():
        jax.config.update(name, value)  # type: ignore[no-untyped-call]


def current() -> str:
    import keras

    return str(keras.backend.backend())


def has_gpu() -> bool:
    if current() == "jax":
        import jax

        return any(device.platform == "gpu" for device in jax.devices())
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def set_graph_options(options: dict[str, bool]) -> None:
    """TensorFlow's Grappler switches (``tf.config.optimizer``); JAX has no Grappler."""
    if current() == "tensorflow" and options:
        import tensorflow as tf

        tf.config.optimizer.set_experimental_options(options)


def compile_function(
    function: Callable[..., Any],
    variables: Sequence[Any],
    *,
    jit_compile: bool,
    counters: Sequence[Any] = (),
    cache_key: str = "",
) -> Callable[..., Any]:
    """`function` compiled for the running backend. `variables`: every Keras variable it
    reads; `counters`: those it also assigns. On JAX it is always XLA, and `cache_key`
    names whatever else of the caller's shapes the traced program (exported.py)."""
    if current() == "tensorflow":
        import tensorflow as tf

        return tf.function(function, jit_compile=jit_compile)  # type: ignore[no-any-return]
    return _jax_function(function, [*variables, *counters], list(counters), cache_key)


def _jax_function(
    function: Callable[..., Any], variables: list[Any], counters: list[Any], cache_key: str
) -> Callable[..., Any]:
    import jax
    import keras

    from worker.engine import exported

    programs: dict[tuple[Any, ...], Callable[..., Any]] = {}  # one per argument signature

    def program(tree: Any, leaves: list[Any]) -> Callable[..., Any]:
        def flat(*leaves: Any) -> tuple[Any, list[Any]]:
            values, args = jax.tree_util.tree_unflatten(tree, leaves)
            mapping = list(zip(variables, values, strict=True))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                outputs = function(*args)
                assigned = [scope.get_current_value(counter) for counter in counters]
            return outputs, assigned

        name = exported.program_name(function, cache_key, tree, leaves)
        return exported.load_or_export(flat, leaves, name, _export_folder)

    def call(*args: Any) -> Any:
        values = [variable.value for variable in variables]
        leaves, tree = jax.tree_util.tree_flatten((values, args))
        signature = (tree, *((leaf.shape, leaf.dtype) for leaf in leaves))
        if signature not in programs:
            programs[signature] = program(tree, leaves)
        outputs, assigned = programs[signature](*leaves)
        for counter, value in zip(counters, assigned, strict=True):
            counter.assign(value)
        return outputs

    return call
