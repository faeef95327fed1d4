"""The sampler math on NumPy, with exact denoisers instead of the UNet.

For Gaussian data x0 ~ N(mu, s^2) the ideal denoiser E[x0 | x_t] is linear and the
probability-flow ODE has a closed-form solution, so the global error of a solver can be
measured exactly: it must fall 2x per doubling of steps for DDIM (first order) and 4x
for DPM-Solver++(2M) (second order). The loop in `integrate` is the engine's loop body
with the same functions from worker.engine.samplers, minus the UNet.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from worker.engine.samplers import (
    ALPHAS_CUMPROD,
    Schedule,
    coefficients,
    ddim_schedule,
    karras_schedule,
    predict_x0,
    row_weights,
    update,
)

Array = npt.NDArray[np.float64]
Denoiser = Callable[[Array, float, float], Array]  # (x_t, alpha_t, sigma_t) -> E[x0 | x_t]

MU, S = 1.0, 0.5  # the Gaussian data
LAMBDA_HIGH_NOISE, LAMBDA_LOW_NOISE = -np.log(14.6), -np.log(0.03)  # lambda = log(alpha/sigma)


def gaussian_denoiser(x: Array, alpha: float, sigma: float) -> Array:
    gain = alpha * S**2 / (alpha**2 * S**2 + sigma**2)
    return MU + gain * (x - alpha * MU)


def exact_flow(x: Array, a_from: float, a_to: float) -> Array:
    """The ODE keeps the standardized value (x - alpha mu) / std(x_t) of every sample."""

    def std(a: float) -> float:
        return math.sqrt(a * S**2 + (1 - a))

    return math.sqrt(a_to) * MU + std(a_to) / std(a_from) * (x - math.sqrt(a_from) * MU)


def log_snr_grid(steps: int) -> Array:
    lam = np.linspace(LAMBDA_HIGH_NOISE, LAMBDA_LOW_NOISE, steps + 1)
    return 1.0 / (1.0 + np.exp(-2.0 * lam))  # a_t = sigmoid(2 lambda)


def integrate(x: Array, levels: Array, order: int, denoiser: Denoiser) -> Array:
    """The engine's step (loop.py) on NumPy: exact eps in, the same update rules."""
    steps = len(levels) - 1
    c = coefficients(Schedule(np.zeros(steps), levels), order)
    x0_prev = np.zeros_like(x)
    for i in range(steps):
        alpha, sigma = float(c.alpha[i]), float(c.sigma[i])
        eps = (x - alpha * denoiser(x, alpha, sigma)) / sigma  # an exact eps-prediction
        x0 = predict_x0(x, eps, c.alpha[i], c.sigma[i])
        b, c2 = row_weights(c.b1[i], c.b2[i], c.c2[i], float(c.second_order[i]))
        x = update(x, x0, x0_prev, c.a[i], b, c2)
        x0_prev = x0
    return x


def error_ratios(order: int) -> list[float]:
    x = np.random.default_rng(0).standard_normal(1000)
    errors = []
    for steps in (40, 80, 160):
        levels = log_snr_grid(steps)
        exact = exact_flow(x, levels[0], levels[-1])
        errors.append(np.abs(integrate(x, levels, order, gaussian_denoiser) - exact).max())
    return [errors[i] / errors[i + 1] for i in range(len(errors) - 1)]


def test_dpm_solver_pp_2m_is_second_order() -> None:
    for ratio in error_ratios(order=2):
        assert 3.5 < ratio < 4.5


def test_ddim_is_first_order() -> None:
    for ratio in error_ratios(order=1):
        assert 1.8 < ratio < 2.2


def test_a_first_order_step_is_ddim() -> None:
    rng = np.random.default_rng(1)
    x, eps = rng.standard_normal(8), rng.standard_normal(8)
    levels = np.array([0.3, 0.7, 1.0])
    c = coefficients(Schedule(np.zeros(2), levels), order=1)
    for i in range(2):
        x0 = predict_x0(x, eps, c.alpha[i], c.sigma[i])
        ddim = np.sqrt(levels[i + 1]) * x0 + np.sqrt(1 - levels[i + 1]) * eps
        np.testing.assert_allclose(update(x, x0, x0, c.a[i], c.b1[i], 0.0), ddim, atol=1e-12)


def test_the_step_to_a_clean_level_is_first_order_and_returns_x0() -> None:
    c = coefficients(karras_schedule(25), order=2)
    assert not c.second_order[0]
    assert not c.second_order[-1]
    assert c.second_order[1:-1].all()
    assert c.a[-1] == 0.0
    assert c.b1[-1] == pytest.approx(1.0)


def test_ddim_schedule_is_keras_cv_s() -> None:
    schedule = ddim_schedule(50)
    # KerasCV: round(arange(50) * 999 / 49), walked from the end, then a clean level.
    expected = (np.arange(50) * 999 / 49).round()[::-1]
    np.testing.assert_array_equal(schedule.timesteps, expected)
    np.testing.assert_array_equal(
        schedule.alphas_cumprod[:-1], ALPHAS_CUMPROD[[int(t) for t in expected]]
    )
    assert schedule.alphas_cumprod[-1] == 1.0


def test_karras_schedule_spans_the_trained_noise_levels() -> None:
    schedule = karras_schedule(25)
    assert schedule.timesteps[0] == pytest.approx(999)
    assert schedule.timesteps[-1] == pytest.approx(0, abs=1e-9)
    assert (np.diff(schedule.timesteps) < 0).all()
    np.testing.assert_allclose(schedule.alphas_cumprod[[0, -2]], ALPHAS_CUMPROD[[999, 0]])
    assert schedule.alphas_cumprod[-1] == 1.0


# Why Karras sigmas (docs/engine.md): on a mixture of narrow Gaussians, with its exact
# denoiser, the full path from t=999 to clean at 25 steps lands closer to the exact
# ODE solution than diffusers' default "linspace" timesteps with a first-order last step.

MEANS = np.array([-1.0, -0.4, 0.2, 0.5, 0.9, 1.3])
STDS = np.array([0.3, 0.1, 0.03, 0.01, 0.1, 0.02])


def mixture_denoiser(x: Array, alpha: float, sigma: float) -> Array:
    var = alpha**2 * STDS**2 + sigma**2
    log_weight = -0.5 * (x[:, None] - alpha * MEANS) ** 2 / var - 0.5 * np.log(var)
    weight = np.exp(log_weight - log_weight.max(axis=1, keepdims=True))
    weight /= weight.sum(axis=1, keepdims=True)
    means = MEANS + alpha * STDS**2 / var * (x[:, None] - alpha * MEANS)
    return (weight * means).sum(axis=1)  # type: ignore[no-any-return]


def diffusers_linspace_levels(steps: int) -> Array:
    timesteps = np.linspace(0, 999, steps + 1).round()[::-1][:-1].astype(int)
    return np.append(ALPHAS_CUMPROD[timesteps], 1.0)


def test_karras_sigmas_beat_diffusers_default_spacing_at_25_steps() -> None:
    x = np.random.default_rng(2).standard_normal(2000)
    sigma_max = np.sqrt((1 - ALPHAS_CUMPROD[-1]) / ALPHAS_CUMPROD[-1])
    lam = np.linspace(-np.log(sigma_max), -np.log(1e-4), 5000)
    reference = integrate(x, np.append(1 / (1 + np.exp(-2 * lam)), 1.0), 2, mixture_denoiser)

    def rms_error(levels: Array) -> float:
        return float(np.sqrt(np.mean((integrate(x, levels, 2, mixture_denoiser) - reference) ** 2)))

    karras = rms_error(karras_schedule(25).alphas_cumprod)
    linspace = rms_error(diffusers_linspace_levels(25))
    assert karras < linspace / 2
