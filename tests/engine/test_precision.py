"""Choosing the dtype policy and XLA, and building under a policy without leaking it."""

from __future__ import annotations

import keras
import pytest

from worker.engine.kerascv import stable_diffusion
from worker.engine.precision import (
    Precision,
    dtype_policy,
    graph_optimizer_options,
    resolve_precision,
)


@pytest.mark.parametrize(
    ("precision", "gpu", "expected"),
    [
        ("auto", True, Precision("mixed_float16", jit_compile=True)),
        ("auto", False, Precision("float32", jit_compile=False)),
        ("float32", True, Precision("float32", jit_compile=True)),
        ("mixed_bfloat16", True, Precision("mixed_bfloat16", jit_compile=True)),
        ("mixed_float16", False, Precision("mixed_float16", jit_compile=False)),
    ],
)
def test_resolve_precision(precision: str, gpu: bool, expected: Precision) -> None:
    assert resolve_precision(precision, gpu=gpu) == expected


def test_xla_can_be_forced_either_way() -> None:
    assert resolve_precision("auto", gpu=False, jit_compile=True).jit_compile
    assert not resolve_precision("auto", gpu=True, jit_compile=False).jit_compile


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown precision 'float8'"):
        resolve_precision("float8", gpu=False)


@pytest.mark.parametrize(
    ("policy", "gpu", "remapping"),
    [
        ("mixed_float16", False, False),
        ("mixed_float16", True, True),
        ("float32", False, True),
        ("mixed_bfloat16", False, True),
    ],
)
def test_remapper_is_off_only_for_float16_on_a_cpu(policy: str, gpu: bool, remapping: bool) -> None:
    assert graph_optimizer_options(policy, gpu=gpu).get("remapping", True) is remapping


@pytest.mark.model
def test_parts_built_under_a_policy_keep_it_and_the_global_policy_is_restored() -> None:
    before = keras.config.dtype_policy().name
    with dtype_policy("mixed_bfloat16"):
        decoder = stable_diffusion().Decoder(64, 64, download_weights=False)
    assert keras.config.dtype_policy().name == before
    assert decoder.layers[-1].compute_dtype == "bfloat16"
    assert decoder.layers[-1].variable_dtype == "float32"
