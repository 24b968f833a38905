"""PC sampling with the exact score of a Gaussian mixture reproduces the mixture."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import samplers
import sde_lib
from mixture_stats import assert_matches_mixture

GMM = sde_lib.GaussianMixture.ring(k=8, radius=4.0, std=0.3)
SDES = {
    "vp": lambda N: sde_lib.VPSDE(0.1, 20.0, N),
    "subvp": lambda N: sde_lib.subVPSDE(0.1, 20.0, N),
    "ve": lambda N: sde_lib.VESDE(0.01, 10.0, N),
}
PAIRS = [(p, c) for p in ("euler_maruyama", "reverse_diffusion", "ancestral_sampling")
         for c in ("none", "langevin", "ald")]
# Corrector-only sampling (annealed Langevin, NCSN style) needs several steps per level.
# subVP with ALD alone is left out on purpose: ALD's step ∝ σ_t² is far smaller than the modes'
# variance once subVP's σ_t (≈ β_min t) is small, so without a predictor it cannot follow them.
CORRECTOR_ONLY = [("none", "langevin", s) for s in SDES] + [("none", "ald", "vp"), ("none", "ald", "ve")]


@pytest.mark.parametrize("sde_name", list(SDES))
@pytest.mark.parametrize("predictor,corrector", PAIRS)
def test_predictor_corrector_pairs_reproduce_mixture(sde_name, predictor, corrector):
    sde = SDES[sde_name](300)
    x, nfe = samplers.sample(jax.random.PRNGKey(0), sde, GMM.score_fn(sde), (6000, 2),
                             predictor=predictor, corrector=corrector, snr=0.16, n_steps=1)
    assert int(nfe) == 300 * (1 + (corrector != "none"))
    assert_matches_mixture(np.asarray(x), GMM)


@pytest.mark.parametrize("predictor,corrector,sde_name", CORRECTOR_ONLY)
def test_corrector_only_sampling_reproduces_mixture(predictor, corrector, sde_name):
    sde = SDES[sde_name](200)
    x, nfe = samplers.sample(jax.random.PRNGKey(1), sde, GMM.score_fn(sde), (6000, 2),
                             predictor=predictor, corrector=corrector, snr=0.25, n_steps=10)
    assert int(nfe) == 2000
    assert_matches_mixture(np.asarray(x), GMM)


def test_prior_only_does_not_match():
    """The check above can fail: with no predictor and no corrector the samples are the prior."""
    sde = SDES["vp"](50)
    x, nfe = samplers.sample(jax.random.PRNGKey(0), sde, GMM.score_fn(sde), (4000, 2),
                             predictor="none", corrector="none")
    assert int(nfe) == 0
    with pytest.raises(AssertionError):
        assert_matches_mixture(np.asarray(x), GMM)


def test_pc_grid_visits_every_discrete_step_once():
    sde = sde_lib.VPSDE(N=1000)
    grid = samplers.time_grid(sde, 1e-3)[:-1]
    idx = np.asarray(sde.timestep_index(grid))
    np.testing.assert_array_equal(idx, np.arange(999, -1, -1))


def test_reverse_diffusion_on_gaussian_data_inverts_the_ddpm_chain():
    """For x0 ~ N(0, I) under VP, every marginal is N(0, I) and the score is -x; the reverse
    chain must keep the variance at 1 to within sampling error."""
    sde = sde_lib.VPSDE(N=1000)
    x, _ = samplers.sample(jax.random.PRNGKey(2), sde, lambda x, t: -x, (20000, 2),
                           predictor="reverse_diffusion", corrector="none", denoise=False)
    assert abs(float(jnp.var(x)) - 1.0) < 0.03


def test_nfe_counts_real_calls_and_options_are_checked():
    sde = SDES["ve"](20)
    calls = []

    def counted(x, t):
        jax.debug.callback(lambda: calls.append(1))
        return GMM.score_fn(sde)(x, t)

    _, nfe = samplers.sample(jax.random.PRNGKey(0), sde, counted, (8, 2), predictor="euler_maruyama",
                             corrector="langevin", n_steps=3)
    jax.effects_barrier()
    assert int(nfe) == len(calls) == 20 * 4
    with pytest.raises(ValueError, match="euler_maruyama"):
        samplers.sample(jax.random.PRNGKey(0), sde, counted, (8, 2), predictor="nope")
    with pytest.raises(ValueError, match="langevin"):
        samplers.sample(jax.random.PRNGKey(0), sde, counted, (8, 2), corrector="nope")
    with pytest.raises(ValueError, match="pc"):
        samplers.sample(jax.random.PRNGKey(0), sde, counted, (8, 2), method="nope")
    with pytest.raises(TypeError, match="snr"):
        samplers.sample(jax.random.PRNGKey(0), sde, counted, (8, 2), snrr=0.1)


class ShiftedOU(sde_lib.SDE):
    """A user's own SDE: dx = -(x - m) dt + sqrt(2) dw, stationary N(m, I), never seen by the library.
    T = 6 so that p_T is its prior N(m, I) to within e^-6."""
    T = 6.0

    def __init__(self, m=1.0):
        super().__init__(N=400)
        self.m = m

    def sde(self, x, t):
        return -(x - self.m), jnp.full(t.shape, jnp.sqrt(2.0))

    def marginal_prob(self, x, t):
        e = jnp.exp(-t)[:, None]
        return self.m + (x - self.m) * e, jnp.sqrt(1 - jnp.exp(-2 * t))

    def prior_sampling(self, rng, shape):
        return self.m + jax.random.normal(rng, shape)

    def prior_logp(self, z):
        return sde_lib.standard_normal_logp(z - self.m)


@pytest.mark.parametrize("predictor,corrector", [("euler_maruyama", "none"), ("reverse_diffusion", "langevin"),
                                                 ("none", "langevin")])
def test_user_defined_sde_works_with_generic_samplers(predictor, corrector):
    """Data N(3, 0.25) under the user's OU process: the exact score is Gaussian; sampling must
    recover mean 3 and std 0.5 (the prior is N(1, 1), so doing nothing fails)."""
    sde = ShiftedOU(1.0)

    def score(x, t):
        e = jnp.exp(-t)[:, None]
        mean = 1.0 + (3.0 - 1.0) * e
        var = 0.25 * e**2 + (1 - e**2)
        return -(x - mean) / var

    x, _ = samplers.sample(jax.random.PRNGKey(0), sde, score, (20000, 1), predictor=predictor,
                           corrector=corrector, n_steps=5 if predictor == "none" else 1, snr=0.3)
    assert abs(float(x.mean()) - 3.0) < 0.05
    assert abs(float(x.std()) - 0.5) < 0.05
