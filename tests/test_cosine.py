"""The cosine schedule (Nichol & Dhariwal, 2021) as a chain and as a VP SDE, against the paper's
formula, the chain, a simulated forward SDE and the samplers (the losses' closed forms on the
cosine SDE are in test_losses.py)."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import samplers
import sde_lib
from mixture_stats import assert_matches_mixture
from test_sde import simulate_forward

GMM = sde_lib.GaussianMixture.ring(k=8, radius=4.0, std=0.3)


def paper_alpha_bar(t, s=0.008):
    """ᾱ_t = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s) · π/2), written out again from the paper."""
    f = lambda u: math.cos((u + s) / (1 + s) * math.pi / 2) ** 2
    return np.array([f(u) / f(0.0) for u in np.atleast_1d(t)])


def test_chain_alpha_bar_is_the_papers_formula():
    n = 1000
    chain = sde_lib.DDPMChain.from_schedule("cosine", n)
    ref = paper_alpha_bar(np.arange(1, n + 1) / n)
    abar = np.asarray(chain.alphas_cumprod, np.float64)
    # Every step but the last is unclipped, so ᾱ_i is f((i+1)/N)/f(0) exactly.
    np.testing.assert_allclose(abar[:-1], ref[:-1], rtol=2e-5, atol=1e-10)
    betas = np.asarray(chain.betas, np.float64)
    ref_betas = np.minimum(1 - ref / np.concatenate([[1.0], ref[:-1]]), 0.999)
    np.testing.assert_allclose(betas, ref_betas, rtol=1e-4, atol=1e-9)
    assert betas.max() <= 0.999 + 1e-7 and abs(betas[-1] - 0.999) < 1e-6
    # and the linear chain is still Ho et al.'s
    np.testing.assert_allclose(sde_lib.DDPMChain(1e-4, 0.02, 1000).betas, np.linspace(1e-4, 0.02, 1000), rtol=1e-6)


def test_sde_marginals_equal_the_chain_at_its_times():
    for n in (10, 1000):
        sde = sde_lib.CosineVPSDE(N=n)
        t = jnp.asarray(np.arange(1, n + 1) / n, jnp.float32)
        alpha, sigma = sde.marginal_coeffs(t)
        abar = np.asarray(sde.chain.alphas_cumprod, np.float64)
        # float32 t = (i+1)/N carries ~3e-5 relative error in 1 - t near the end: ~1e-4 in ᾱ.
        np.testing.assert_allclose(np.asarray(alpha, np.float64) ** 2, abar, rtol=2e-4)
        np.testing.assert_allclose(np.asarray(sigma, np.float64) ** 2, 1 - abar, rtol=1e-4, atol=1e-7)
        mean, std = sde.marginal_prob(jnp.ones((n, 3)), t)
        np.testing.assert_allclose(mean[:, 0], alpha, rtol=1e-6)
        np.testing.assert_allclose(std, sigma, rtol=1e-6)
    a0, s0 = sde.marginal_coeffs(jnp.zeros(1))
    assert abs(float(a0[0]) - 1) < 1e-6 and float(s0[0]) < 1e-6


def test_beta_is_minus_the_derivative_of_log_alpha_bar():
    sde = sde_lib.CosineVPSDE(N=1000)
    t = jnp.linspace(0.0, 0.995, 200)
    dlog = jax.vmap(jax.grad(lambda u: 2 * sde._log_mean_coeff(u)))(t)
    _, g = sde.sde(jnp.zeros((200, 1)), t)
    np.testing.assert_allclose(g**2, -dlog, rtol=1e-3)
    np.testing.assert_allclose(float(g[0]) ** 2, math.pi / 1.008 * math.tan(0.008 / 1.008 * math.pi / 2), rtol=1e-4)


def test_time_from_log_snr_inverts_log_snr():
    sde = sde_lib.CosineVPSDE(N=1000)
    t = jnp.concatenate([jnp.linspace(1e-3, 0.998, 50), jnp.array([0.9993, 0.9998, 1.0])])
    back = sde.time_from_log_snr(sde.log_snr(t))
    np.testing.assert_allclose(back, t, atol=2e-5)
    # the closed form agrees with the base class's bisection
    bisect = sde_lib.SDE.time_from_log_snr(sde, sde.log_snr(t))
    np.testing.assert_allclose(back, bisect, atol=2e-5)


@pytest.mark.parametrize("t_end", [0.3, 0.9])
def test_marginal_prob_matches_simulated_forward_sde(t_end):
    sde = sde_lib.CosineVPSDE(N=1000)
    n = 20000
    x0 = jnp.tile(jnp.array([[1.5, -2.0]]), (n, 1))
    x = np.asarray(simulate_forward(sde, x0, t_end, 2000, jax.random.PRNGKey(0)))
    mean, std = sde.marginal_prob(x0[:1], jnp.full((1,), t_end))
    mean, std = np.asarray(mean[0]), float(std[0])
    assert np.all(np.abs(x.mean(0) - mean) < 5 * std / np.sqrt(n) + 2e-3 * np.abs(mean) + 1e-3), (x.mean(0), mean)
    assert np.all(np.abs(x.std(0) - std) < 5 * std / np.sqrt(2 * n) + 0.01 * std), (x.std(0), std)


def test_discretize_is_the_cosine_chain():
    sde = sde_lib.CosineVPSDE(N=100)
    x = jnp.full((100, 2), 1.7)
    f, G = sde.discretize(x, jnp.arange(100) / 99.0)
    np.testing.assert_allclose(x + f, jnp.sqrt(sde.chain.alphas)[:, None] * x, rtol=1e-5)
    np.testing.assert_allclose(G, jnp.sqrt(sde.chain.betas), rtol=1e-6)
    np.testing.assert_allclose(sde.corrector_alpha(jnp.arange(100) / 99.0), sde.chain.alphas, rtol=1e-6)


def test_get_sde_honours_the_schedule():
    sde = sde_lib.get_sde("vpsde", schedule="cosine", beta_min=0.1, beta_max=20.0, N=500)
    assert isinstance(sde, sde_lib.CosineVPSDE) and sde.N == 500
    assert type(sde_lib.get_sde("VPSDE", beta_min=0.1, beta_max=20.0, N=500)) is sde_lib.VPSDE
    with pytest.raises(ValueError, match="cosine"):
        sde_lib.get_sde("vpsde", schedule="quadratic", N=10)
    with pytest.raises(ValueError, match="vpsde"):
        sde_lib.get_sde("subvpsde", schedule="cosine", beta_min=0.1, beta_max=20.0, N=10)
    with pytest.raises(ValueError, match="max_beta"):
        sde_lib.CosineVPSDE(N=10, max_beta=1.0)


def test_configs_default_to_the_linear_schedule():
    from configs import default_image, toy2d
    assert toy2d.get_config().training.schedule == "linear"
    assert default_image.get_default_configs().training.schedule == "linear"


@pytest.mark.parametrize("method,options", [
    ("pc", dict(predictor="reverse_diffusion", corrector="langevin", snr=0.16)),
    ("pc", dict(predictor="ancestral_sampling", corrector="none")),
    ("pc", dict(predictor="euler_maruyama", corrector="none")),
    ("ddim", dict(num_steps=200)),
    ("dpm_solver_pp", dict(num_steps=40)),
    ("ode", dict(rtol=1e-4, atol=1e-4)),
])
def test_samplers_recover_the_mixture_on_the_cosine_sde(method, options):
    sde = sde_lib.CosineVPSDE(N=300)
    x, _ = samplers.sample(jax.random.PRNGKey(3), sde, GMM.score_fn(sde), (6000, 2), method=method, **options)
    assert_matches_mixture(np.asarray(x), GMM)
