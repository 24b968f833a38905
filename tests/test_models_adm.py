"""The adm model (guided-diffusion's UNetModel): its score on the VP discrete chain, its learned
variance, and its config checks. Output parity with guided-diffusion itself is in
test_checkpoints_peer.py."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import models
import peer_cases as pc
import sde_lib

CASE = pc.cases()["adm_small"]           # 2 channels, learned σ: 4 outputs


@pytest.fixture(scope="module")
def adm():
    cfg = pc.model_config(CASE)
    model = models.get_model(cfg)
    variables = models.load_checkpoint(pc.path("adm_small.pt"), cfg)
    return model, variables


def test_eps_half_gives_the_vp_discrete_score_and_labels_are_timesteps(adm):
    model, variables = adm
    sde = sde_lib.VPSDE(beta_min=0.1, beta_max=20.0, N=1000)
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 16, 16, 2))
    t = jnp.array([0.05, 0.7])
    seen = []

    def apply(v, x, labels, train=False):
        seen.append(labels)
        return model.apply(v, x, labels, train=train)

    score = models.make_score_fn(sde, apply, variables, output="eps", label="time",
                                 continuous=False)(x, t)
    i = sde.timestep_index(t)
    np.testing.assert_array_equal(np.asarray(seen[0]), np.asarray(i, np.float32))   # t in [0, 999]
    out = model.apply(variables, x, i.astype(jnp.float32))
    eps, v = models.split_adm_output(out)
    assert out.shape == (2, 16, 16, 4) and eps.shape == v.shape == x.shape
    std = np.sqrt(1.0 - np.asarray(sde.chain.alphas_cumprod)[np.asarray(i)])
    np.testing.assert_allclose(np.asarray(score), -np.asarray(eps) / std[:, None, None, None],
                               rtol=1e-5, atol=1e-6)


def test_learned_variance_interpolates_between_beta_and_posterior_variance():
    chain = sde_lib.DDPMChain(1e-4, 0.02, 1000)
    i = jnp.array([0, 1, 500, 999])
    ones = jnp.ones((4, 2, 2, 1))
    betas = np.asarray(chain.betas)[np.asarray(i)]
    post = np.asarray(chain.posterior_variance)
    tilde = np.where(np.asarray(i) == 0, post[1], post[np.asarray(i)])     # β̃_0 clipped to β̃_1
    np.testing.assert_allclose(np.asarray(models.adm_log_variance(ones, chain, i))[:, 0, 0, 0],
                               np.log(betas), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(models.adm_log_variance(-ones, chain, i))[:, 0, 0, 0],
                               np.log(tilde), rtol=1e-6)
    mid = np.asarray(models.adm_log_variance(0 * ones, chain, i))[:, 0, 0, 0]
    np.testing.assert_allclose(mid, 0.5 * (np.log(betas) + np.log(tilde)), rtol=1e-6)
    with pytest.raises(ValueError, match="2·2 output channels"):
        models.split_adm_output(jnp.zeros((1, 4, 4, 5)), channels=2)


def test_config_checks_and_defaults():
    with pytest.raises(ValueError, match="model.model_channels, model.attention_resolutions"):
        models.get_model(dict(name="adm", num_res_blocks=1))
    base = dict(name="adm", model_channels=32, num_res_blocks=1, attention_resolutions=(1,),
                channel_mult=(1, 1))
    m = models.get_model(dict(base, learn_sigma=True))
    x, t = jnp.zeros((1, 8, 8, 3)), jnp.zeros((1,))
    shapes = jax.eval_shape(m.init, jax.random.PRNGKey(0), x, t)
    assert shapes["params"]["out_2"]["kernel"].shape == (3, 3, 32, 6)   # learn_sigma: 2·C outputs
    assert models.get_model(dict(base, out_channels=1)).output_channels(3) == 1
    with pytest.raises(ValueError, match="not divisible by num_head_channels 24"):
        jax.eval_shape(models.get_model(dict(base, num_head_channels=24)).init,
                       jax.random.PRNGKey(0), x, t)
    with pytest.raises(ValueError, match="y .* if and only if num_classes"):
        jax.eval_shape(models.get_model(dict(base, num_classes=4)).init, jax.random.PRNGKey(0), x, t)
    with pytest.raises(ValueError, match="dropout"):
        models.get_model(dict(base, dropout=1.5))


def test_uncentered_inputs_are_rescaled(adm):
    model, variables = adm
    x = jax.random.uniform(jax.random.PRNGKey(1), (1, 16, 16, 2))
    t = jnp.array([100.0])
    a = model.apply(variables, 2 * x - 1, t)
    b = model.clone(centered=False).apply(variables, x, t)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)
