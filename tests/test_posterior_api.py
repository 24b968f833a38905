"""posterior_sample's contract: exact NFE counts, option checking, mean/std helper, jit use."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mri
import samplers
import sde_lib
from test_posterior_helpers import column_mask, gaussian_prior

SDE = sde_lib.VESDE(0.01, 10.0, 12)
PRIOR = gaussian_prior((4, 4, 1), 0)
OP = mri.SinglecoilOperator(column_mask(4, [1, 2]))
Y = OP.forward(jnp.ones((3, 4, 4)))

# method -> (options, expected nfe)
CASES = {
    "score_mri": (dict(corrector="langevin", n_steps=2), 12 * 3),
    "projection": (dict(num_steps=5, predictor="euler_maruyama", corrector="ald"), 5 * 2),
    "dps": (dict(num_steps=7), 7),
    "dds": (dict(num_steps=6, cg_iters=3), 6),
    "mmps": (dict(num_steps=9, corrector="langevin", cg_iters=4), 9 * 2),
}


@pytest.mark.parametrize("method", list(CASES))
def test_nfe_equals_the_number_of_score_calls(method):
    calls = []
    score = PRIOR.score_fn(SDE)

    def counted(x, t):
        jax.debug.callback(lambda: calls.append(1))
        return score(x, t)

    opts, expected = CASES[method]
    x, nfe = samplers.posterior_sample(jax.random.PRNGKey(0), SDE, counted, OP, Y, method=method, **opts)
    jax.effects_barrier()
    assert x.shape == (3, 4, 4, 1) and np.all(np.isfinite(np.asarray(x)))
    assert int(nfe) == expected == len(calls)


def test_unknown_method_and_options_list_the_valid_ones():
    score = PRIOR.score_fn(SDE)
    with pytest.raises(ValueError, match="valid names: .*dds.*dps.*mmps.*projection.*score_mri"):
        samplers.posterior_sample(jax.random.PRNGKey(0), SDE, score, OP, Y, method="red_diff")
    with pytest.raises(TypeError, match="unknown option.*zeta.*valid options: .*num_steps"):
        samplers.posterior_sample(jax.random.PRNGKey(0), SDE, score, OP, Y, method="score_mri", zeta=1.0)
    with pytest.raises(TypeError, match="noise_std"):
        samplers.posterior_sample(jax.random.PRNGKey(0), SDE, score, OP, Y, method="dps", noise_std=0.1)
    with pytest.raises(ValueError, match="reverse_diffusion"):
        samplers.posterior_sample(jax.random.PRNGKey(0), SDE, score, OP, Y, method="score_mri", num_steps=5)
    with pytest.raises(ValueError, match="lam"):
        samplers.posterior_sample(jax.random.PRNGKey(0), SDE, score, OP, Y, method="projection", lam=1.5)
    with pytest.raises(ValueError, match="complex_prior must be one of"):
        samplers.posterior_sample(jax.random.PRNGKey(0), SDE, score, OP, Y, complex_prior="yes")
    with pytest.raises(ValueError, match="needs an operator on complex images"):
        inpaint = mri.InpaintingOperator(np.ones((4, 4), np.float32))
        samplers.posterior_sample(jax.random.PRNGKey(0), SDE, score, inpaint, jnp.ones((1, 4, 4, 1)),
                                  complex_prior=True)
    with pytest.raises(ValueError, match="multicoil"):
        samplers.posterior_sample(jax.random.PRNGKey(0), SDE, score, OP, Y, multicoil="sos")


def test_lambda_alias_and_projection_weight_zero_ignores_the_data():
    """Song et al.'s λ may be spelled "lambda" (e.g. in a config); λ = 0 is unconditional sampling."""
    score = PRIOR.score_fn(SDE)
    x0, _ = samplers.posterior_sample(jax.random.PRNGKey(1), SDE, score, OP, Y, method="projection",
                                      **{"lambda": 0.0})
    assert x0.shape == (3, 4, 4, 1) and np.all(np.isfinite(np.asarray(x0)))
    assert np.abs(np.asarray(OP.forward(x0[..., 0]) - Y)).max() > 0.1   # data not enforced


def test_posterior_mean_std_and_outer_jit():
    score = PRIOR.score_fn(SDE)
    opts = dict(method="dds", num_steps=6)
    mean, std, nfe = samplers.posterior_mean_std(jax.random.PRNGKey(2), SDE, score, OP, Y[:2], n_samples=5, **opts)
    assert mean.shape == std.shape == (2, 4, 4, 1) and int(nfe) == 6
    assert np.all(np.asarray(std) >= 0) and np.asarray(std).max() > 0
    # the same samples, drawn as one batch by hand
    x, _ = samplers.posterior_sample(jax.random.PRNGKey(2), SDE, score, OP, jnp.concatenate([Y[:2]] * 5), **opts)
    np.testing.assert_allclose(mean, np.asarray(x).reshape(5, 2, 4, 4, 1).mean(0), atol=1e-5)
    # operator and measurements as traced arguments of a user's jit
    jitted = jax.jit(lambda op, y: samplers.posterior_sample(jax.random.PRNGKey(2), SDE, score, op, y, **opts)[0])
    np.testing.assert_allclose(jitted(OP, jnp.concatenate([Y[:2]] * 5)), x, atol=1e-5)
    with pytest.raises(ValueError, match="n_samples"):
        samplers.posterior_mean_std(jax.random.PRNGKey(2), SDE, score, OP, Y, n_samples=0)


class PlainOperator:
    """A user's operator that is not a pytree: keep every other pixel of a real image."""

    def forward(self, x):
        return x[:, ::2]

    def adjoint(self, y):
        return jnp.zeros(y.shape[:1] + (4,) + y.shape[2:], y.dtype).at[:, ::2].set(y)


def test_any_object_with_forward_and_adjoint_works():
    score = PRIOR.score_fn(SDE)
    y = jnp.full((2, 2, 4, 1), 0.7)
    x, _ = samplers.posterior_sample(jax.random.PRNGKey(3), SDE, score, PlainOperator(), y,
                                     method="score_mri", corrector="none")
    np.testing.assert_allclose(np.asarray(x[:, ::2]), 0.7, atol=1e-5)
    with pytest.raises(TypeError, match="forward and adjoint"):
        samplers.posterior_sample(jax.random.PRNGKey(3), SDE, score, object(), y)


def test_dds_gamma_floor_adds_to_the_noise_derived_weight():
    score = PRIOR.score_fn(SDE)

    def run(**opts):
        return np.asarray(samplers.posterior_sample(jax.random.PRNGKey(0), SDE, score, OP, Y, method="dds",
                                                    num_steps=6, **opts)[0])

    # noiseless: the derived weight is 0, so the floor is the whole weight, at every step
    np.testing.assert_allclose(run(gamma_floor=0.5), run(gamma=0.5), atol=1e-6)
    assert np.abs(run(gamma_floor=0.5) - run()).max() > 1e-3
    # noisy: floor + (alpha s / sigma_t)², which neither a constant nor the schedule alone gives
    noisy = run(noise_std=0.3, gamma_floor=0.5)
    assert min(np.abs(noisy - run(noise_std=0.3)).max(), np.abs(noisy - run(gamma=0.5)).max()) > 1e-3
    with pytest.raises(ValueError, match="gamma_floor.*give one of them"):
        run(gamma=0.5, gamma_floor=0.1)
