"""Measured convergence order of the deterministic fixed-step solvers.

Each solver and a tight-tolerance RK45 solve of the same probability-flow ODE start from the
same prior sample (``samplers.draw_prior`` is how every method draws it); the error at t = eps
is fitted against the step count on a log-log scale. The target is a smooth, wide 2-component
mixture, and the step counts sit in the asymptotic regime (DPM-Solver++'s first steps from
T are pre-asymptotic below ~16 steps).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import samplers
import sde_lib

TARGET = sde_lib.GaussianMixture([0.5, 0.5], [[1.5, 0.0], [-1.5, 0.5]],
                                 [np.eye(2), np.diag([0.5, 1.5])])
EPS = 1e-3
SHAPE = (32, 2)


@pytest.fixture(scope="module", params=["vp", "ve"])
def problem(request):
    sde = sde_lib.VPSDE() if request.param == "vp" else sde_lib.VESDE()
    score = TARGET.score_fn(sde)
    key = jax.random.PRNGKey(7)
    _, x_T = samplers.draw_prior(key, sde, SHAPE)
    ref, stats = jax.jit(lambda x: samplers.ode_solve(sde, score, x, sde.T, EPS, rtol=1e-7, atol=1e-7,
                                                      max_steps=20000))(x_T)
    assert bool(stats.success)
    return sde, score, key, ref


@pytest.mark.parametrize("method,schedule,steps,order", [
    ("ddim", "logsnr", (8, 16, 32, 64), 1.0),
    ("dpm_solver_pp", "logsnr", (16, 32, 64, 128), 2.0),
    ("heun", "edm", (8, 16, 32, 64), 2.0),
])
def test_convergence_order(problem, method, schedule, steps, order):
    sde, score, key, ref = problem
    errs = []
    for n in steps:
        x, _ = samplers.sample(key, sde, score, SHAPE, method=method, num_steps=n, schedule=schedule)
        errs.append(float(jnp.max(jnp.abs(x - ref))))
    slope = -np.polyfit(np.log(steps), np.log(errs), 1)[0]
    assert abs(slope - order) < 0.3, (errs, slope)
    assert errs[-1] > 1e-4        # still far above the reference's own error (~1e-6)
