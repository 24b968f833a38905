"""Posterior sampling against the closed-form posterior of a Gaussian prior.

Which methods are exact. For a Gaussian prior p(x0 | x_t) is Gaussian, with Tweedie's mean x̂0
and covariance (sigma_t² / alpha_t) ∂x̂0/∂x_t, so ``mmps`` (the PC sampler on the conditional
score built from those two moments) follows the exact conditional reverse SDE: its samples have
the exact posterior mean and covariance up to time discretisation, with or without measurement
noise, for real, complex and split priors. That is checked here, mean and per-pixel variance.

``score_mri`` in the noiseless case is exact only in a limit: hard data consistency conditions
x_t on alpha_t y rather than x0 on y (biased: 0.13-0.7 posterior sd without a corrector), but
its corrector steps, projected onto the measurements, are Langevin MCMC on p_t restricted to
``{Ã x = alpha_t y}``, which near t = 0 is the posterior; as the corrector effort grows the bias
vanishes (here 0.02 sd and +5-9 % variance at 200 levels). It is held to a stated tolerance.
The other methods are approximations: see test_posterior_approx.py.

Images are 4 x 4 (16 real unknowns) so that CG inside ``mmps`` converges fully; 2000 samples give
a standard error of 0.022 posterior sd on a mean and 3.2 % on a variance.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mri
import samplers
import sde_lib
from test_posterior_helpers import column_mask, exact_posterior, gaussian_prior, measure, sample_stats

B = 2000
N_PIX = 4


def _single_coil_problem(noise_std, complex_prior=False, seed=0):
    op = mri.SinglecoilOperator(column_mask(N_PIX, [1, 2]))   # column 1 unpaired, 2 is the DC column
    if complex_prior == "split":
        # the real prior on each of the real and imaginary parts: block-diagonal over [Re, Im]
        real = gaussian_prior((N_PIX, N_PIX, 1), seed)
        prior = real
        mean = np.concatenate([np.asarray(real.means[0])] * 2)
        cov = np.kron(np.eye(2), np.asarray(real.covs[0]))
        joint = sde_lib.GaussianMixture.gaussian(mean, cov)
        x_true = np.asarray(joint.sample(jax.random.PRNGKey(seed), 1)).reshape(2, N_PIX, N_PIX)
        image = (x_true[0] + 1j * x_true[1])[None].astype(np.complex64)
    elif complex_prior:
        prior = joint = gaussian_prior((N_PIX, N_PIX, 2), seed)
        x_true = np.asarray(prior.sample(jax.random.PRNGKey(seed), 1)).reshape(1, N_PIX, N_PIX, 2)
        image = np.asarray(samplers.to_complex(x_true))
    else:
        prior = joint = gaussian_prior((N_PIX, N_PIX, 1), seed)
        image = np.asarray(prior.sample(jax.random.PRNGKey(seed), 1)).reshape(1, N_PIX, N_PIX)
    y = measure(op, jnp.asarray(image), noise_std, seed)
    mean, cov = exact_posterior(joint, op, y, noise_std, complex_prior)
    return prior, op, y, mean, cov


def _flat_split(x):
    """[B, H, W, 2] (real, imag) -> [B, 2·H·W] ordered as [Re image, Im image] (the split prior's order)."""
    x = np.asarray(x)
    return np.concatenate([x[..., 0].reshape(len(x), -1), x[..., 1].reshape(len(x), -1)], 1)


def _assert_matches(x, mean, cov, mean_tol_sd, var_band, what):
    m, v = sample_stats(x)
    sd = np.sqrt(np.diag(cov))
    live = sd > 1e-3                      # measured directions of a noiseless problem have sd 0
    err = np.abs(m - mean) / np.where(live, sd, 1.0)
    assert np.all(np.abs(m - mean)[~live] < 1e-2), f"{what}: a measured pixel is off"
    assert err[live].max() < mean_tol_sd, f"{what}: mean off by {err[live].max():.3f} posterior sd"
    ratio = v[live] / sd[live] ** 2
    assert var_band[0] < ratio.min() and ratio.max() < var_band[1], \
        f"{what}: variance ratios in [{ratio.min():.3f}, {ratio.max():.3f}], want {var_band}"


@pytest.mark.parametrize("noise_std", [0.0, 0.1])
def test_mmps_samples_the_exact_posterior_real_prior(noise_std):
    prior, op, y, mean, cov = _single_coil_problem(noise_std)
    sde = sde_lib.VPSDE(0.1, 20.0, 200)
    x, nfe = samplers.posterior_sample(jax.random.PRNGKey(1), sde, prior.score_fn(sde), op,
                                       jnp.repeat(y, B, 0), method="mmps", num_steps=200,
                                       noise_std=noise_std, cg_iters=16)
    assert x.shape == (B, N_PIX, N_PIX, 1) and int(nfe) == 200
    _assert_matches(x, mean, cov, 0.15, (0.85, 1.15), f"mmps, noise {noise_std}")
    # the prior mean is far from the posterior: the check has teeth
    assert np.abs(np.asarray(prior.means[0]) - mean).max() > 1.0 * np.sqrt(np.diag(cov)).max()


@pytest.mark.parametrize("complex_prior", [True, "split"])
def test_mmps_exact_for_complex_and_split_priors_under_ve(complex_prior):
    prior, op, y, mean, cov = _single_coil_problem(0.05, complex_prior, seed=3)
    sde = sde_lib.VESDE(0.01, 10.0, 200)
    x, _ = samplers.posterior_sample(jax.random.PRNGKey(2), sde, prior.score_fn(sde), op,
                                     jnp.repeat(y, B, 0), method="mmps", complex_prior=complex_prior,
                                     num_steps=200, noise_std=0.05, cg_iters=20)
    assert x.shape == (B, N_PIX, N_PIX, 2)
    flat = _flat_split(x) if complex_prior == "split" else np.asarray(x).reshape(B, -1)
    _assert_matches(flat, mean, cov, 0.15, (0.85, 1.15), f"mmps, complex_prior={complex_prior}")


def test_score_mri_with_corrector_is_close_to_exact_when_noiseless():
    prior, op, y, mean, cov = _single_coil_problem(0.0, seed=0)
    sde = sde_lib.VPSDE(0.1, 20.0, 200)
    x, nfe = samplers.posterior_sample(jax.random.PRNGKey(3), sde, prior.score_fn(sde), op,
                                       jnp.repeat(y, B, 0), method="score_mri", corrector="langevin")
    assert int(nfe) == 400
    _assert_matches(x, mean, cov, 0.15, (0.85, 1.2), "score_mri + langevin")
