"""The compiled DPM-Solver++(2M) loop against a NumPy reference, step by step.

The reference is written here from the papers, not from worker.engine.samplers:
Karras et al. (2022) sigmas (rho 7) between the trained noise levels, and the 2M update
as k-diffusion's ``sample_dpmpp_2m`` writes it, in the variance-exploding space
``x / alpha`` (first order on the first step and on the step to sigma 0). Its noise
predictions come from KerasCV's own ``DiffusionModel`` called eagerly, twice per step
(unconditional and conditional rows), as KerasCV's pipeline does.

Each engine step starts from the reference's latent and the reference's previous x0
(the 2M sampler's memory), so any difference is that one step's; then one compiled
call runs every step from the first latent with its memory inside the loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
import numpy.typing as npt
import pytest

from tests.engine.conftest import SIZE
from tests.engine.helpers import relative_error, scaled_column, unmasked
from worker.engine.compiled import StepTable, step_table
from worker.engine.engine import KerasEngine
from worker.engine.kerascv import stable_diffusion_module
from worker.engine.rows import latent_shape, noise
from worker.engine.samplers import karras_schedule

pytestmark = pytest.mark.model

Array = npt.NDArray[np.float64]

STEPS = 4  # first order, two second-order steps, then first order to sigma 0
RHO = 7.0
PROMPTS = ("a lighthouse at dusk", "a bowl of ramen")
GUIDANCE = (7.5, 3.0)
# One step: the same UNet sums in another order (measured at most 3e-6 over six steps).
# A 1 % error in a, b1, b2 or c2 moved some step by 3e-3 to 1.3e-2.
STEP_TOLERANCE = 3e-5


def karras(steps: int) -> tuple[Array, Array]:
    """Sigmas (steps + 1, ending at 0) and the UNet's (fractional) timestep per step."""
    alphas_cumprod = np.asarray(stable_diffusion_module("constants")._ALPHAS_CUMPROD)
    trained = np.sqrt((1.0 - alphas_cumprod) / alphas_cumprod)
    ramp = np.linspace(0.0, 1.0, steps)
    high, low = trained[-1] ** (1 / RHO), trained[0] ** (1 / RHO)
    sigmas = (high + ramp * (low - high)) ** RHO
    # k-diffusion's sigma_to_t: linear in log sigma between the trained levels.
    timesteps = np.interp(np.log(sigmas), np.log(trained), np.arange(len(trained)))
    return np.append(sigmas, 0.0), timesteps


def timestep_embedding(timestep: float, rows: int) -> Array:
    half = 160
    args = timestep * np.exp(-math.log(10000.0) * np.arange(half) / half)
    return np.repeat(np.concatenate([np.cos(args), np.sin(args)])[np.newaxis], rows, axis=0)


def dpmpp_2m_step(x: Array, denoised: Array, old: Array | None, sigmas: Array, i: int) -> Array:
    """k-diffusion's DPM++ 2M step on variance-exploding latents ``x = x_vp / alpha``."""
    sigma, sigma_next = sigmas[i], sigmas[i + 1]
    if old is None or sigma_next == 0:
        return (sigma_next / sigma) * x + (1.0 - sigma_next / sigma) * denoised
    t, t_next, t_prev = -np.log(sigma), -np.log(sigma_next), -np.log(sigmas[i - 1])
    h, h_last = t_next - t, t - t_prev
    r = h_last / h
    d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old
    return (sigma_next / sigma) * x - math.expm1(-h) * d


@dataclass
class Reference:
    latents: list[Array]  # variance-preserving, as the engine keeps them: steps + 1
    x0: list[Array]  # the denoised estimate of every step


def vp_alpha(sigma: float) -> float:
    return 1.0 / math.sqrt(1.0 + sigma**2)


@pytest.fixture(scope="module")
def contexts(engine: KerasEngine) -> npt.NDArray[np.float32]:
    """(4, 77, 768): both rows' unconditional contexts, then their prompts'."""
    blank = np.asarray(engine._prompts["sd14"].context(""))
    prompts = [np.asarray(engine._prompts["sd14"].context(prompt)) for prompt in PROMPTS]
    return np.concatenate([blank, blank, *prompts]).astype(np.float32)


@pytest.fixture(scope="module")
def reference(engine: KerasEngine, contexts: npt.NDArray[np.float32]) -> Reference:
    model = engine.model.parts.diffusion_model
    sigmas, timesteps = karras(STEPS)
    guidance = np.asarray(GUIDANCE)[:, None, None, None]
    rows = len(PROMPTS)
    shape = latent_shape(*SIZE)
    x_vp = np.stack([noise(seed, shape) for seed in (31, 32)]).astype(np.float64)
    latents, x0s, old = [x_vp], [], None
    for i in range(STEPS):
        embedding = timestep_embedding(timesteps[i], rows)

        def eps(context: npt.NDArray[np.float32], x: Array = x_vp, t: Array = embedding) -> Array:
            inputs = {"latent": x, "timestep_embedding": t, "context": context}
            as_tensors = {k: keras.ops.convert_to_tensor(v, "float32") for k, v in inputs.items()}
            return np.asarray(model(as_tensors, training=False), np.float64)

        uncond, cond = eps(contexts[:rows]), eps(contexts[rows:])
        guided = uncond + guidance * (cond - uncond)
        alpha = vp_alpha(sigmas[i])
        x = x_vp / alpha
        denoised = x - sigmas[i] * guided
        x_vp = dpmpp_2m_step(x, denoised, old, sigmas, i) * vp_alpha(sigmas[i + 1])
        latents.append(x_vp)
        x0s.append(denoised)
        old = denoised
    return Reference(latents, x0s)


def engine_steps(
    engine: KerasEngine,
    contexts: npt.NDArray[np.float32],
    table: StepTable,
    start: npt.NDArray[np.float64],
    memory: npt.NDArray[np.float64],
    begin: int,
    count: int,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """`count` steps of the compiled loop from step `begin`; (latents, x0)."""
    tensor = keras.ops.convert_to_tensor
    x, x0, finite = engine.model.denoise(
        tensor(start, "float32"),
        tensor(memory, "float32"),
        tensor(contexts),
        tensor(np.asarray(GUIDANCE), "float32"),
        tensor(np.zeros(len(PROMPTS)), "int32"),
        table,
        tensor(begin, "int32"),
        tensor(count, "int32"),
        unmasked(len(PROMPTS)),
    )
    assert bool(np.asarray(finite))
    return np.asarray(x), np.asarray(x0)


def worst_step_error(
    engine: KerasEngine,
    contexts: npt.NDArray[np.float32],
    reference: Reference,
    table: StepTable,
) -> float:
    """The largest relative difference over every step's latent and x0."""
    errors = []
    for i in range(STEPS):
        memory = reference.x0[i - 1] if i else np.zeros_like(reference.latents[0])
        x, x0 = engine_steps(engine, contexts, table, reference.latents[i], memory, i, 1)
        errors += [
            relative_error(x, reference.latents[i + 1]),
            relative_error(x0, reference.x0[i]),
        ]
    return max(errors)


def dpm_table() -> StepTable:
    return step_table(karras_schedule(STEPS), 2)


def test_the_schedule_is_karras_s() -> None:
    sigmas, timesteps = karras(STEPS)
    schedule = karras_schedule(STEPS)
    np.testing.assert_allclose(schedule.timesteps, timesteps, rtol=1e-12)
    np.testing.assert_allclose(
        schedule.alphas_cumprod, [vp_alpha(sigma) ** 2 for sigma in sigmas], rtol=1e-12
    )


def test_every_step_matches_the_reference(
    engine: KerasEngine, contexts: npt.NDArray[np.float32], reference: Reference
) -> None:
    assert worst_step_error(engine, contexts, reference, dpm_table()) <= STEP_TOLERANCE


def test_one_call_of_every_step_keeps_its_memory_and_matches(
    engine: KerasEngine, contexts: npt.NDArray[np.float32], reference: Reference
) -> None:
    start, zeros = reference.latents[0], np.zeros_like(reference.latents[0])
    x, x0 = engine_steps(engine, contexts, dpm_table(), start, zeros, 0, STEPS)
    # The steps' rounding compounds through the UNet (measured 2e-6).
    assert relative_error(x, reference.latents[-1]) <= 10 * STEP_TOLERANCE
    np.testing.assert_array_equal(x, x0)  # the step to sigma 0 lands on its x0


@pytest.mark.parametrize("column", ["a", "b1", "b2", "c2"])
def test_a_one_percent_error_in_an_update_weight_fails_the_step_comparison(
    engine: KerasEngine, contexts: npt.NDArray[np.float32], reference: Reference, column: str
) -> None:
    wrong = scaled_column(dpm_table(), column, 1.01)
    assert worst_step_error(engine, contexts, reference, wrong) > 10 * STEP_TOLERANCE


def test_dropping_the_previous_x0_fails_the_step_comparison(
    engine: KerasEngine, contexts: npt.NDArray[np.float32], reference: Reference
) -> None:
    """A sampler that forgot its memory (first order throughout) must not pass."""
    table = dpm_table()
    forgetful = table._replace(second=keras.ops.zeros_like(table.second))
    assert worst_step_error(engine, contexts, reference, forgetful) > 10 * STEP_TOLERANCE
