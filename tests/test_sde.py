"""The SDEs against their mathematics: simulated marginals, the exact DDPM chain, analytic scores."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_lib

SDES = {
    "vp": lambda N=1000: sde_lib.VPSDE(0.1, 20.0, N),
    "subvp": lambda N=1000: sde_lib.subVPSDE(0.1, 20.0, N),
    "ve": lambda N=1000: sde_lib.VESDE(0.01, 10.0, N),
}


def simulate_forward(sde, x0, t_end, n_steps, rng):
    """Euler–Maruyama on the forward SDE from time 0 to t_end."""
    dt = t_end / n_steps

    def body(i, carry):
        x, key = carry
        key, k = jax.random.split(key)
        t = jnp.full((x.shape[0],), i * dt)
        drift, diff = sde.sde(x, t)
        return x + drift * dt + diff[:, None] * jnp.sqrt(dt) * jax.random.normal(k, x.shape), key

    return jax.lax.fori_loop(0, n_steps, body, (x0, rng))[0]


@pytest.mark.parametrize("name", list(SDES))
@pytest.mark.parametrize("t_end", [0.3, 1.0])
def test_marginal_prob_matches_simulated_forward_sde(name, t_end):
    sde = SDES[name]()
    n = 20000
    x0 = jnp.tile(jnp.array([[1.5, -2.0]]), (n, 1))
    start = x0
    _, std0 = sde.marginal_prob(x0[:1], jnp.zeros(1))
    # VE's marginal describes x(0) that already carries σ_min noise (score_sde convention).
    start = x0 + std0[0] * jax.random.normal(jax.random.PRNGKey(1), x0.shape)
    x = np.asarray(simulate_forward(sde, start, t_end, 2000, jax.random.PRNGKey(0)))
    mean, std = sde.marginal_prob(x0[:1], jnp.full((1,), t_end))
    mean, std = np.asarray(mean[0]), float(std[0])
    se_mean = std / np.sqrt(n)
    assert np.all(np.abs(x.mean(0) - mean) < 5 * se_mean + 2e-3 * np.abs(mean) + 1e-3), (x.mean(0), mean)
    # Sample std: standard error std/sqrt(2n); 1% allowance for the Euler discretisation.
    assert np.all(np.abs(x.std(0) - std) < 5 * std / np.sqrt(2 * n) + 0.01 * std), (x.std(0), std)


def test_vp_discretize_is_the_ddpm_chain():
    sde = sde_lib.VPSDE(0.1, 20.0, 1000)
    betas = np.linspace(1e-4, 0.02, 1000)
    np.testing.assert_allclose(sde.chain.betas, betas, rtol=1e-6)
    x = jnp.array([[2.0, -1.0]] * 1000)
    # Step i at time t_i = i / (N-1): x_{i+1} = sqrt(1-β_i) x_i + sqrt(β_i) z, exactly.
    t = jnp.arange(1000) / 999.0
    f, G = sde.discretize(x, t)
    np.testing.assert_allclose(np.asarray(x + f), np.sqrt(1 - betas)[:, None] * np.asarray(x), rtol=3e-5)
    np.testing.assert_allclose(np.asarray(G), np.sqrt(betas), rtol=1e-5)
    # Composing the steps gives q(x_i | x_0) = N(sqrt(ᾱ_i) x_0, (1-ᾱ_i) I).
    m, v = 1.0, 0.0
    for i in range(1000):
        a = float(1 + f[i, 0] / x[i, 0])
        m, v = a * m, a * a * v + float(G[i]) ** 2
    abar = np.prod(1 - betas)
    np.testing.assert_allclose(m, np.sqrt(abar), rtol=1e-3)
    np.testing.assert_allclose(v, 1 - abar, rtol=1e-4)
    np.testing.assert_allclose(float(sde.chain.alphas_cumprod[-1]), abar, rtol=1e-4)


def test_ddpm_posterior_is_bayes_rule():
    chain = sde_lib.DDPMChain(1e-4, 0.02, 1000)
    abar = np.cumprod(1 - np.linspace(1e-4, 0.02, 1000))
    for i in [1, 10, 500, 999]:
        a_prev, beta = abar[i - 1], np.linspace(1e-4, 0.02, 1000)[i]
        x0, xt = 0.7, -0.4
        # Joint of (x_{i-1}, x_i) given x0, then Gaussian conditioning.
        m1, v1 = np.sqrt(a_prev) * x0, 1 - a_prev
        m2, c12, v2 = np.sqrt(1 - beta) * m1, np.sqrt(1 - beta) * v1, (1 - beta) * v1 + beta
        mean_ref = m1 + c12 / v2 * (xt - m2)
        var_ref = v1 - c12**2 / v2
        mean, var = chain.q_posterior(jnp.full((1, 1), x0), jnp.full((1, 1), xt), jnp.array([i]))
        np.testing.assert_allclose(float(mean[0, 0]), mean_ref, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(float(var[0]), var_ref, rtol=1e-4)
        np.testing.assert_allclose(float(var[0]), (1 - a_prev) / (1 - abar[i]) * beta, rtol=1e-4)
    # i = 0: x_{-1} is x_0 itself, so the posterior is a point mass at x0.
    mean, var = chain.q_posterior(jnp.full((1, 1), 0.7), jnp.full((1, 1), 5.0), jnp.array([0]))
    assert abs(float(mean[0, 0]) - 0.7) < 1e-6 and abs(float(var[0])) < 1e-9


def test_ve_discretize_is_the_smld_ladder():
    sde = sde_lib.VESDE(0.01, 50.0, 100)
    sig = np.exp(np.linspace(np.log(0.01), np.log(50.0), 100))
    np.testing.assert_allclose(sde.ladder.sigmas, sig, rtol=1e-5)
    t = jnp.arange(100) / 99.0
    _, G = sde.discretize(jnp.zeros((100, 1)), t)
    # Variances telescope: Σ_{j<=i} G_j² = σ_i².
    np.testing.assert_allclose(np.cumsum(np.asarray(G, np.float64) ** 2), sig**2, rtol=1e-4)


def test_conversions_roundtrip():
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    x0 = jax.random.normal(k1, (4, 3))
    eps = jax.random.normal(k2, (4, 3))
    alpha, sigma = jnp.array([0.9, 0.5, 0.1, 1.0]), jnp.array([0.4, 0.8, 0.99, 3.0])
    x = alpha[:, None] * x0 + sigma[:, None] * eps
    s = sde_lib.score_from_eps(eps, sigma)
    np.testing.assert_allclose(s, -eps / sigma[:, None], rtol=1e-6)
    np.testing.assert_allclose(sde_lib.eps_from_score(s, sigma), eps, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sde_lib.x0_from_score(x, s, alpha, sigma), x0, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(sde_lib.x0_from_eps(x, eps, alpha, sigma), x0, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(sde_lib.eps_from_x0(x, x0, alpha, sigma), eps, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(sde_lib.score_from_x0(x, x0, alpha, sigma), s, rtol=1e-4, atol=1e-4)


def test_gmm_perturbed_density_is_the_mixture_of_pushed_gaussians():
    """log p_t against scipy's Gaussians N(α μ_k, α² C_k + σ² I), in 3-D with full covariances
    (so K ≠ D and the eigenbasis is not the axes), and the score against its closed form."""
    from scipy.stats import multivariate_normal
    rng = np.random.default_rng(0)
    K, D = 4, 3
    A = rng.normal(size=(K, D, D))
    covs = A @ np.transpose(A, (0, 2, 1)) + 0.1 * np.eye(D)
    means = rng.normal(size=(K, D)) * 2
    w = np.array([0.1, 0.2, 0.3, 0.4])
    gmm = sde_lib.GaussianMixture(w, means, covs)
    x = rng.normal(size=(50, D)) * 2
    alpha = rng.uniform(0.2, 1.0, 50)
    sigma = rng.uniform(0.05, 1.0, 50)
    logp = np.asarray(jax.jit(gmm.perturbed_log_prob)(jnp.asarray(x, jnp.float32),
                                                       jnp.asarray(alpha, jnp.float32), jnp.asarray(sigma, jnp.float32)))
    score = np.asarray(jax.jit(gmm.perturbed_score)(jnp.asarray(x, jnp.float32),
                                                     jnp.asarray(alpha, jnp.float32), jnp.asarray(sigma, jnp.float32)))
    for b in range(50):
        C = alpha[b] ** 2 * covs + sigma[b] ** 2 * np.eye(D)
        m = alpha[b] * means
        dens = np.array([w[k] * multivariate_normal(m[k], C[k]).pdf(x[b]) for k in range(K)])
        np.testing.assert_allclose(logp[b], np.log(dens.sum()), rtol=1e-4, atol=1e-4)
        r = dens / dens.sum()
        exact = -sum(r[k] * np.linalg.solve(C[k], x[b] - m[k]) for k in range(K))
        np.testing.assert_allclose(score[b], exact, rtol=1e-3, atol=1e-3 * np.abs(exact).max())


def test_gmm_samples_have_the_mixture_weights_means_and_covariances():
    """Draws from ``GaussianMixture.sample``: the component counts pass a chi-square test against
    the weights (a zero-weight component never appears), and each component's draws have its
    mean and covariance. Components are told apart by far-apart means."""
    from scipy.stats import chisquare
    w = np.array([0.5, 0.0, 0.15, 0.35])
    means = np.array([[0.0, 0.0], [40.0, 0.0], [0.0, 40.0], [40.0, 40.0]])
    covs = np.array([[[1.0, 0.3], [0.3, 0.5]], np.eye(2), [[0.2, 0.0], [0.0, 2.0]], [[1.0, -0.6], [-0.6, 1.0]]])
    gmm = sde_lib.GaussianMixture(w, means, covs)
    n = 200_000
    x = np.asarray(jax.jit(gmm.sample, static_argnums=1)(jax.random.PRNGKey(0), n), np.float64)
    comp = np.argmin(((x[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    counts = np.bincount(comp, minlength=4)
    assert counts[1] == 0
    keep = w > 0
    assert chisquare(counts[keep], n * w[keep]).pvalue > 1e-3, counts
    for k in np.flatnonzero(keep):
        xk = x[comp == k]
        np.testing.assert_allclose(xk.mean(0), means[k], atol=0.03)
        np.testing.assert_allclose(np.cov(xk.T), covs[k], atol=0.04)
    # a wrong weight is caught: the same counts against weights shifted by 0.01
    assert chisquare(counts[keep], n * (w[keep] + [0.01, 0.0, -0.01])).pvalue < 1e-6


@pytest.mark.parametrize("name", list(SDES))
def test_gmm_perturbed_score_matches_autodiff(name):
    sde = SDES[name]()
    gmm = sde_lib.GaussianMixture(
        [0.2, 0.5, 0.3], [[-2.0, 0.0], [1.0, 1.0], [2.0, -2.0]],
        [[[0.3, 0.1], [0.1, 0.2]], [[0.1, 0.0], [0.0, 0.4]], [[0.5, -0.2], [-0.2, 0.3]]])
    x = 2.0 * jax.random.normal(jax.random.PRNGKey(3), (64, 2))
    t = jax.random.uniform(jax.random.PRNGKey(4), (64,), minval=1e-3, maxval=1.0)
    logp = gmm.log_prob_fn(sde)
    # jitted: op-by-op this test spent ~10 s compiling each primitive separately
    auto = jax.jit(jax.vmap(jax.grad(lambda xx, tt: logp(xx[None], tt[None])[0])))(x, t)
    np.testing.assert_allclose(jax.jit(gmm.score_fn(sde))(x, t), auto, rtol=2e-3, atol=2e-3)
    # and at t = 0 the density is the mixture itself, normalised
    grid = jnp.stack(jnp.meshgrid(jnp.linspace(-6, 6, 241), jnp.linspace(-6, 6, 241)), -1).reshape(-1, 2)
    mass = float(jnp.sum(jnp.exp(jax.jit(gmm.log_prob)(grid))) * (12 / 240) ** 2)
    assert abs(mass - 1.0) < 1e-3


def test_reverse_and_probability_flow_drifts():
    sde = sde_lib.VPSDE()
    score = lambda x, t: -3.0 * x
    x, t = jnp.ones((2, 2)), jnp.array([0.2, 0.7])
    f, g = sde.sde(x, t)
    rd, rg = sde.reverse(score).sde(x, t)
    pd, pg = sde.reverse(score, probability_flow=True).sde(x, t)
    np.testing.assert_allclose(rd, f - (g**2)[:, None] * score(x, t), rtol=1e-6)
    np.testing.assert_allclose(pd, f - 0.5 * (g**2)[:, None] * score(x, t), rtol=1e-6)
    np.testing.assert_allclose(rg, g)
    np.testing.assert_allclose(pg, 0.0)


@pytest.mark.parametrize("ctor,kwargs,word", [
    (sde_lib.VPSDE, dict(beta_min=30.0, beta_max=20.0), "beta_min"),
    (sde_lib.VPSDE, dict(beta_min=-0.1), "beta_min"),
    (sde_lib.VPSDE, dict(N=0), "N"),
    (sde_lib.subVPSDE, dict(beta_min=5.0, beta_max=1.0), "beta_min"),
    (sde_lib.VESDE, dict(sigma_min=-0.01), "sigma_min"),
    (sde_lib.VESDE, dict(sigma_min=1.0, sigma_max=0.5), "sigma_max"),
    (sde_lib.VESDE, dict(N=2.5), "N"),
])
def test_constructors_reject_impossible_parameters(ctor, kwargs, word):
    with pytest.raises(ValueError, match=word):
        ctor(**kwargs)


def test_get_sde_lists_valid_names():
    with pytest.raises(ValueError, match="vesde"):
        sde_lib.get_sde("nosuch")
