"""KerasCV's own CLIP tokenizer code, run without importing Keras or TensorFlow.

The file is read from the installed keras_cv package and executed as it is, except its
two imports from keras_cv itself (an export decorator, and `keras`, which it needs only
to download the vocabulary when given no path): importing TensorFlow would take seconds
and hundreds of MB for what is plain Python.
"""

import ast
import importlib.util
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

_SOURCE = "src/models/stable_diffusion/clip_tokenizer.py"


def load() -> SimpleNamespace:
    """The module's names: `basic_clean`, `whitespace_clean`, `SimpleTokenizer`, ...
    Skips the test where keras_cv is not installed (a bot-only environment)."""
    spec = importlib.util.find_spec("keras_cv")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("keras_cv is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / _SOURCE
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    tree.body = [node for node in tree.body if not _imports_keras_cv(node)]
    names: dict[str, Any] = {
        "__name__": "kerascv_clip_tokenizer",
        "keras_cv_export": lambda _name: lambda cls: cls,
        "keras": None,
    }
    exec(compile(tree, str(path), "exec"), names)
    return SimpleNamespace(**names)


def _imports_keras_cv(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keras_cv")
