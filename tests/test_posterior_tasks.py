"""Data consistency, multi-coil, inpainting and colorization with the posterior samplers."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mri
import samplers
import sde_lib
from test_posterior_helpers import column_mask, exact_posterior, gaussian_prior, measure, sample_stats

N = 8
FAST = {   # few levels: consistency does not depend on how well the prior is followed
    "score_mri": dict(num_steps=20, predictor="ancestral_sampling", corrector="langevin"),
    "dds": dict(num_steps=10),
}


def _image(complex_prior, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, N, N)).astype(np.float32)
    if complex_prior is not False:
        x = (x + 1j * rng.standard_normal((2, N, N))).astype(np.complex64)
    return jnp.asarray(x)


def _prior(complex_prior, sde):
    channels = 2 if complex_prior is True else 1
    return gaussian_prior((N, N, channels), 5).score_fn(sde)


@pytest.mark.parametrize("complex_prior", [False, True, "split"])
@pytest.mark.parametrize("method", ["score_mri", "dds"])
def test_noiseless_reconstruction_matches_measured_kspace(method, complex_prior):
    mask = mri.make_mask("random", (N, N), acceleration=2, center_fraction=0.25, seed=1)
    op = mri.SinglecoilOperator(mask)
    y = op.forward(_image(complex_prior))
    sde = sde_lib.VPSDE(0.1, 20.0, 100)
    x, _ = samplers.posterior_sample(jax.random.PRNGKey(0), sde, _prior(complex_prior, sde), op, y,
                                     method=method, complex_prior=complex_prior, **FAST[method])
    image = samplers.to_complex(x) if x.shape[-1] == 2 else x[..., 0]
    k = np.asarray(mri.fft2c(image)) * mask
    scale = np.abs(np.asarray(y)).max()
    assert np.abs(k - np.asarray(y)).max() < 2e-5 * scale, np.abs(k - np.asarray(y)).max() / scale
    # ... and the unmeasured part was filled in, not left at zero
    assert np.abs(np.asarray(mri.fft2c(image)) * (1 - mask)).max() > 0.1 * scale


def test_sense_data_consistency_converges_with_cg_iterations():
    mask = column_mask(N, [0, 2, 3, 4, 5, 6])
    op = mri.MulticoilOperator(mask, mri.birdcage_maps((4, N, N)))
    y = op.forward(_image(False))
    sde = sde_lib.VPSDE(0.1, 20.0, 100)
    errs = []
    for iters in (2, 40):
        x, _ = samplers.posterior_sample(jax.random.PRNGKey(0), sde, _prior(False, sde), op, y,
                                         method="score_mri", dc_iters=iters, **FAST["score_mri"])
        errs.append(float(np.abs(np.asarray(op.forward(x[..., 0]) - y)).max() / np.abs(np.asarray(y)).max()))
    assert errs[1] < 1e-3 and errs[1] < 0.1 * errs[0], errs


def test_dds_final_solve_makes_the_output_consistent_without_more_nfe():
    """dds's output is its last correction: a few CG steps on SENSE leave data unused, a long
    final solve (``final_cg_iters``) makes the output consistent at the same NFE."""
    mask = column_mask(N, [0, 2, 3, 4, 5, 6])
    op = mri.MulticoilOperator(mask, mri.birdcage_maps((4, N, N)))
    y = op.forward(_image(False))
    sde = sde_lib.VPSDE(0.1, 20.0, 100)
    errs = []
    for final in (None, 60):
        x, nfe = samplers.posterior_sample(jax.random.PRNGKey(0), sde, _prior(False, sde), op, y, method="dds",
                                           num_steps=10, cg_iters=2, final_cg_iters=final)
        assert int(nfe) == 10
        errs.append(float(np.abs(np.asarray(op.forward(x[..., 0]) - y)).max() / np.abs(np.asarray(y)).max()))
    assert errs[1] < 1e-3 and errs[1] < 0.1 * errs[0], errs
    with pytest.raises(ValueError, match="final_cg_iters"):
        samplers.posterior_sample(jax.random.PRNGKey(0), sde, _prior(False, sde), op, y, method="dds",
                                  num_steps=10, final_cg_iters=0)


@pytest.mark.parametrize("complex_prior", [True, "split"])
def test_coil_by_coil_is_the_root_sum_of_squares_of_consistent_coil_images(complex_prior):
    """Fully sampled k-space leaves nothing to the prior: every coil image must equal S_c x, and
    with sum_c |S_c|² = 1 their root-sum-of-squares is |x|."""
    op = mri.MulticoilOperator(np.ones((N, N), np.float32), mri.birdcage_maps((3, N, N)))
    x_true = _image(True)
    y = op.forward(x_true)
    sde = sde_lib.VPSDE(0.1, 20.0, 100)
    x, nfe = samplers.posterior_sample(jax.random.PRNGKey(0), sde, _prior(complex_prior, sde), op, y,
                                       method="score_mri", complex_prior=complex_prior,
                                       multicoil="coil_by_coil", **FAST["score_mri"])
    assert x.shape == (2, N, N, 1) and int(nfe) == 40
    np.testing.assert_allclose(np.asarray(x[..., 0]), np.abs(np.asarray(x_true)), atol=1e-4)
    with pytest.raises(ValueError, match="complex_prior=True"):
        samplers.posterior_sample(jax.random.PRNGKey(0), sde, _prior(False, sde), op, y,
                                  method="score_mri", multicoil="coil_by_coil", **FAST["score_mri"])


B = 2000


def _task_problem(op, shape, seed):
    prior = gaussian_prior(shape, seed)
    x_true = prior.sample(jax.random.PRNGKey(seed), 1).reshape((1,) + shape)
    y = measure(op, x_true, 0.0, seed)
    mean, cov = exact_posterior(prior, op, y, 0.0)
    return prior, y, mean, cov


def test_inpainting_recovers_known_pixels_and_the_conditional_mean():
    pixel_mask = np.zeros((4, 4), np.float32)
    pixel_mask[::2] = 1.0
    pixel_mask[1, 1] = 1.0
    op = mri.InpaintingOperator(pixel_mask)
    prior, y, mean, cov = _task_problem(op, (4, 4, 1), 11)
    sde = sde_lib.VPSDE(0.1, 20.0, 100)
    yb = jnp.repeat(y, B, 0)
    x, _ = samplers.posterior_sample(jax.random.PRNGKey(5), sde, prior.score_fn(sde), op, yb,
                                     method="mmps", num_steps=100, cg_iters=16)
    m, v = sample_stats(x)
    sd = np.sqrt(np.maximum(np.diag(cov), 0))
    unknown = pixel_mask.ravel() == 0
    assert np.all(np.abs(m - mean)[unknown] < 0.15 * sd[unknown])
    assert np.all(np.abs(v[unknown] / sd[unknown] ** 2 - 1) < 0.15)
    # Hard replacement alone is biased (0.7 sd here); the projected Langevin corrector removes the
    # bias as its effort grows (0.5 sd at 1 step of snr 0.16, 0.08 sd at 5 steps of snr 0.3).
    x2, _ = samplers.posterior_sample(jax.random.PRNGKey(6), sde, prior.score_fn(sde), op, yb,
                                      method="score_mri", corrector="langevin", snr=0.3, n_steps=5)
    known = ~unknown
    np.testing.assert_allclose(np.asarray(x2).reshape(B, -1)[:, known],
                               np.broadcast_to(np.asarray(y).reshape(-1)[known], (B, known.sum())), atol=1e-5)
    m2, _ = sample_stats(x2)
    assert np.all(np.abs(m2 - mean)[unknown] < 0.2 * sd[unknown])


def test_colorization_reproduces_the_grey_level_and_the_posterior_mean():
    op = mri.ColorizationOperator()
    prior, y, mean, cov = _task_problem(op, (4, 4, 3), 12)
    sde = sde_lib.VPSDE(0.1, 20.0, 100)
    yb = jnp.repeat(y, B, 0)
    x, _ = samplers.posterior_sample(jax.random.PRNGKey(7), sde, prior.score_fn(sde), op, yb,
                                     method="mmps", num_steps=100, cg_iters=16)
    assert x.shape == (B, 4, 4, 3)
    m, _ = sample_stats(x)
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(m - mean) < 0.15 * sd)
    x2, _ = samplers.posterior_sample(jax.random.PRNGKey(8), sde, prior.score_fn(sde), op, yb,
                                      method="score_mri", corrector="none")
    np.testing.assert_allclose(np.asarray(x2).mean(-1, keepdims=True), np.asarray(yb), atol=1e-5)
    m2, _ = sample_stats(x2)
    assert np.sqrt(np.mean((m2 - mean) ** 2)) < 0.35 * np.sqrt(np.mean(sd**2))
