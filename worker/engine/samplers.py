"""Sampler math: noise schedules and the DDIM / DPM-Solver++(2M) update rules.

Everything here is plain arithmetic on arrays, so the same functions run on NumPy
arrays (the convergence tests, with an exact Gaussian denoiser) and on TensorFlow
tensors (inside the compiled denoising loop).

Conventions (variance-preserving, as Stable Diffusion v1 was trained):
``x_t = alpha_t * x0 + sigma_t * eps`` with ``alpha_t = sqrt(a_t)``, ``sigma_t =
sqrt(1 - a_t)``, ``a_t`` = KerasCV's ``_ALPHAS_CUMPROD[t]``, and ``lambda_t =
log(alpha_t / sigma_t)`` (half the log-SNR). A schedule is a list of ``n + 1`` noise
levels from noisiest to cleanest; step ``i`` evaluates the model at level ``i`` and
moves the latent to level ``i + 1``.

Both samplers are the data-prediction form of DPM-Solver++ (Lu et al., 2022):
``x_next = A * x + B * x0 + C * x0_prev``. First order (``C = 0``) is exactly DDIM
with eta = 0; second order adds the multistep correction from the previous step's
``x0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from worker.engine.kerascv import stable_diffusion_module
from worker.engine.request import SAMPLERS

Floats = npt.NDArray[np.float64]

TRAIN_STEPS: Final = 1000
ALPHAS_CUMPROD: Final[Floats] = np.asarray(
    stable_diffusion_module("constants")._ALPHAS_CUMPROD, dtype=np.float64
)
KARRAS_RHO: Final = 7.0  # Karras et al. (2022), section 3: the value that works for images


@dataclass(frozen=True)
class Schedule:
    """Where the model is evaluated (``timesteps``, n) and the levels it walks (n + 1)."""

    timesteps: Floats  # the UNet's timestep input per step; may be fractional
    alphas_cumprod: Floats  # a_t per level, noisiest first; 1.0 means clean

    @property
    def steps(self) -> int:
        return len(self.timesteps)


@dataclass(frozen=True)
class Coefficients:
    """Per-step constants of the update, computed once on the host in float64."""

    alpha: Floats  # sqrt(a) at the level the model sees
    sigma: Floats  # sqrt(1 - a) at that level
    a: Floats  # weight of the current latent
    b1: Floats  # weight of x0 in a first-order step
    b2: Floats  # weight of x0 in a second-order step (0 where not allowed)
    c2: Floats  # weight of the previous x0 in a second-order step
    second_order: npt.NDArray[np.bool_]  # whether step i may use the previous x0


def ddim_schedule(steps: int) -> Schedule:
    """KerasCV's own DDIM timesteps (``generate_image``), so our images equal its images."""
    ratio = (TRAIN_STEPS - 1) / (steps - 1) if steps > 1 else TRAIN_STEPS
    timesteps = (np.arange(0, steps) * ratio).round().astype(np.int64)[::-1]
    levels = np.append(ALPHAS_CUMPROD[timesteps], 1.0)
    return Schedule(timesteps.astype(np.float64), levels)


def karras_schedule(steps: int, rho: float = KARRAS_RHO) -> Schedule:
    """Karras sigmas between the model's noisiest and cleanest levels, then a clean level.

    The last step (to sigma = 0) is necessarily first order: its log-SNR step is infinite.
    """
    sigmas_train = np.sqrt((1.0 - ALPHAS_CUMPROD) / ALPHAS_CUMPROD)
    lo, hi = sigmas_train[0] ** (1 / rho), sigmas_train[-1] ** (1 / rho)
    sigmas = (hi + np.linspace(0.0, 1.0, steps) * (lo - hi)) ** rho
    # Fractional timesteps, interpolated in log-sigma: the UNet's sinusoidal embedding is
    # smooth in t, and keeping t consistent with sigma avoids a mismatch from rounding.
    timesteps = np.interp(np.log(sigmas), np.log(sigmas_train), np.arange(TRAIN_STEPS))
    levels = np.append(1.0 / (1.0 + sigmas**2), 1.0)
    return Schedule(timesteps, levels)


def schedule_for(sampler: str, steps: int) -> Schedule:
    if sampler == "ddim":
        return ddim_schedule(steps)
    if sampler == "dpmpp_2m":
        return karras_schedule(steps)
    raise ValueError(f"Unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}.")


def max_order(sampler: str) -> int:
    return 2 if sampler == "dpmpp_2m" else 1


def coefficients(schedule: Schedule, order: int) -> Coefficients:
    """The update's constants for every step of `schedule` (order 1 = DDIM, 2 = 2M)."""
    a_t = schedule.alphas_cumprod
    alpha, sigma = np.sqrt(a_t), np.sqrt(1.0 - a_t)
    a = sigma[1:] / sigma[:-1]
    # alpha_next * (1 - exp(-h)), written so that a clean next level (sigma = 0) is exact.
    b1 = alpha[1:] - a * alpha[:-1]
    with np.errstate(divide="ignore"):
        lam = np.log(alpha) - np.log(sigma)  # +inf at a clean level
    h = np.diff(lam)  # the step sizes in lambda; the last is +inf when it ends clean
    second = np.zeros(schedule.steps, dtype=bool)
    if order == 2:
        # A step may use the previous x0 when there is one and its own size is finite.
        second[1:] = np.isfinite(h[1:])
    h_prev = np.append(1.0, h[:-1])
    r = np.where(second, h_prev / np.where(second, h, 1.0), 1.0)  # r = h_prev / h
    b2 = np.where(second, b1 * (1.0 + 0.5 / r), 0.0)
    c2 = np.where(second, -b1 * 0.5 / r, 0.0)
    return Coefficients(alpha[:-1], sigma[:-1], a, b1, b2, c2, second)


def predict_x0(x: Any, eps: Any, alpha: Any, sigma: Any) -> Any:
    """The model's estimate of the clean latent from its noise prediction."""
    return (x - sigma * eps) / alpha


def update(x: Any, x0: Any, x0_prev: Any, a: Any, b: Any, c: Any) -> Any:
    """One solver step: ``a * x + b * x0 + c * x0_prev`` (c = 0 for first order)."""
    return a * x + b * x0 + c * x0_prev


def row_weights(b1: Any, b2: Any, c2: Any, second: Any) -> tuple[Any, Any]:
    """A step's (b, c) for rows that may (``second`` = 1) or may not (0) go second order.

    Rows of one batch can start at different steps (img2img strengths), so whether a row
    has a previous x0 is decided per row; ``second`` is a 0/1 array broadcast over rows.
    """
    return b1 + second * (b2 - b1), second * c2
