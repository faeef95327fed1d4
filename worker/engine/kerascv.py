"""KerasCV's Stable Diffusion modules, under whichever Keras backend is running.

KerasCV 0.9's Stable Diffusion files use only ``keras``, ``keras.ops``,
``keras.random`` and each other, yet ``import keras_cv`` imports TensorFlow: its package
``__init__`` and ``keras_cv.src.backend`` do. On TensorFlow we import KerasCV as
usual. On any other backend we register stand-ins for the parent packages (the real
folders as their search paths, so Python finds the real files) and a
``keras_cv.src.backend`` that exposes Keras itself, then import the installed
``stable_diffusion`` package from its own files: KerasCV's code runs unchanged and
TensorFlow is never imported.
"""

from __future__ import annotations

import functools
import importlib
import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import keras

PACKAGE = "keras_cv.src.models.stable_diffusion"


@functools.cache
def stable_diffusion() -> Any:
    """The ``keras_cv.src.models.stable_diffusion`` package (one copy per process)."""
    if keras.backend.backend() != "tensorflow" and "keras_cv" not in sys.modules:
        _register_stand_ins()
    return importlib.import_module(PACKAGE)


def stable_diffusion_module(name: str) -> Any:
    """One module of that package by its file name, e.g. ``"constants"``."""
    stable_diffusion()
    return importlib.import_module(f"{PACKAGE}.{name}")


def _register_stand_ins() -> None:
    spec = importlib.util.find_spec("keras_cv")  # finds the folder, runs nothing
    if spec is None or spec.origin is None:
        raise ImportError("keras-cv is not installed (pip install --no-deps keras-cv).")
    root = Path(spec.origin).parent
    parents = {"keras_cv": root, "keras_cv.src": root / "src"}
    parents["keras_cv.src.models"] = root / "src" / "models"
    for name, folder in parents.items():
        package = types.ModuleType(name)
        # The real folder, so Python finds the real files below; a spec that says so,
        # for anything that asks where the package is (importlib.util.find_spec).
        package.__path__ = [str(folder)]
        package.__spec__ = importlib.machinery.ModuleSpec(
            name, None, origin=str(folder / "__init__.py"), is_package=True
        )
        package.__spec__.submodule_search_locations = [str(folder)]
        _add(package)
    backend = types.ModuleType("keras_cv.src.backend")
    backend.keras, backend.ops, backend.random = keras, keras.ops, keras.random  # type: ignore[attr-defined]
    exporting = types.ModuleType("keras_cv.src.api_export")
    exporting.keras_cv_export = lambda path, package="keras_cv": lambda symbol: symbol  # type: ignore[attr-defined]
    _add(backend)
    _add(exporting)


def _add(module: types.ModuleType) -> None:
    """Into sys.modules, and as an attribute of its parent, as an import would do."""
    sys.modules[module.__name__] = module
    parent, _, child = module.__name__.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
