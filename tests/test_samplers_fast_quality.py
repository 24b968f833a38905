"""Sample quality of every fast solver on the 8-mode ring with its exact (analytic) score.

Statistics of n samples against the exact mixture (radius 4, mode std 0.3), with tolerances
of 4 standard errors of the statistic at this n (so a correct sampler fails with probability
well under 1e-3 per check; the seeds are fixed, so the test is deterministic):

- mean radius: SE = std(radius) / sqrt(n);
- per-mode weights (nearest-mode assignment): SE = sqrt(p (1 - p) / n), p = 1/8;
- within-mode covariance, pooled in each mode's (radial, tangential) frame: SE of a variance
  is v sqrt(2 / n), of a covariance v / sqrt(n), v = 0.3².

Step counts are chosen so the solver's own bias on the mean radius (the most sensitive of
these statistics; measured paired against a tight ODE solve) stays below ~2 SE.
"""
import math

import jax
import numpy as np
import pytest

import samplers
import sde_lib

RING = sde_lib.GaussianMixture.ring(k=8, radius=4.0, std=0.3)
N = 3000
MEANS = np.asarray(RING.means, np.float64)


def ring_stats(x):
    x = np.asarray(x, np.float64)
    assert np.all(np.isfinite(x))
    radius = np.linalg.norm(x, axis=1)
    mode = np.argmin(((x[:, None] - MEANS[None]) ** 2).sum(-1), axis=1)
    weights = np.bincount(mode, minlength=len(MEANS)) / len(x)
    res = x - MEANS[mode]
    ang = np.arctan2(MEANS[mode, 1], MEANS[mode, 0])
    rad = res[:, 0] * np.cos(ang) + res[:, 1] * np.sin(ang)
    tan = -res[:, 0] * np.sin(ang) + res[:, 1] * np.cos(ang)
    return radius, weights, np.cov(np.stack([rad, tan]))


@pytest.fixture(scope="module")
def exact_radius():
    radius, _, _ = ring_stats(RING.sample(jax.random.PRNGKey(123), 400_000))
    return radius.mean()


# The ring (modes 13 std apart, sigma_min/alpha ~ 0.01) makes the flow sharply curved near
# the data, so few-step solvers need more steps here than on smooth targets: first-order DDIM
# needs a few hundred for its radius bias to drop below 1 SE at n = 3000.
CASES = [
    ("ode", {"rtol": 1e-3, "atol": 1e-3}),
    ("ddim", {"num_steps": 500}),
    ("ddim", {"num_steps": 400, "eta": 1.0}),
    ("dpm_solver_pp", {"num_steps": 40}),
    ("heun", {"num_steps": 40}),
    ("adaptive_sde", {"rtol": 0.02}),
]


@pytest.mark.parametrize("sde_name", ["vp", "ve"])
@pytest.mark.parametrize("method,options", CASES)
def test_samples_match_ring(exact_radius, sde_name, method, options):
    sde = sde_lib.VPSDE() if sde_name == "vp" else sde_lib.VESDE()
    x, nfe = samplers.sample(jax.random.PRNGKey(11), sde, RING.score_fn(sde), (N, 2), method=method,
                             **options)
    radius, weights, cov = ring_stats(x)
    se_r = radius.std() / math.sqrt(N)
    assert abs(radius.mean() - exact_radius) < 4 * se_r, (radius.mean(), exact_radius, se_r)
    p = 1 / 8
    assert np.max(np.abs(weights - p)) < 4 * math.sqrt(p * (1 - p) / N), weights
    v = 0.3**2
    se_var, se_cov = v * math.sqrt(2 / N), v / math.sqrt(N)
    assert abs(cov[0, 0] - v) < 4 * se_var and abs(cov[1, 1] - v) < 4 * se_var, cov
    assert abs(cov[0, 1]) < 4 * se_cov, cov
