"""U-Net score networks (NCSN++ / DDPM++ / DDPM) and FIR resampling.

Tiny models (nf 8, two levels, 8 px, batch 2). Compilation dominates the run time, so: parameters
are initialised under jit with an ``rbg`` key (the same Flax init; XLA compiles RngBitGenerator far
faster than threefry), every jit here asks XLA for its cheapest backend optimisation level (this
test-local option changes compile time, not results), and compiled functions are shared via a cache.
One file (a little over 300 lines) so every family shares that cache of compiled functions.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import models
import sde_lib
from configs.small_unet import small_unet_config
from models import resample
from models.ddpm import DDPM
from models.ncsnpp import NCSNpp

B, H, C = 2, 8, 1


def _key(seed: int):
    return jax.random.key(seed, impl="rbg")


def _cfg(name: str, **over):
    cfg = small_unet_config(name)
    cfg.nf = 8
    for k, v in over.items():
        cfg[k] = v
    return cfg


FAMILIES = {
    # NCSN++ as in score_sde's VE configs, with the "cat" combiner.
    "ncsnpp_skip": _cfg("ncsnpp", progressive="output_skip", progressive_input="input_skip",
                        progressive_combine="cat"),
    # DDPM-style resblocks with fused FIR up/down convolutions and residual pyramids.
    "ncsnpp_residual": _cfg("ncsnpp", resblock_type="ddpm", progressive="residual",
                            progressive_input="residual", scale_by_sigma=False),
    "ddpmpp": _cfg("ddpmpp"),
    "ddpm": _cfg("ddpm"),
}


def _labels(model):
    if getattr(model, "embedding_type", "positional") == "fourier":
        return jnp.array([0.3, 7.0], jnp.float32)      # σ
    return jnp.array([12.0, 870.0], jnp.float32)       # t·(N-1)


def _x(seed=0):
    return jax.random.uniform(jax.random.PRNGKey(seed), (B, H, H, C))


# Cheapest XLA backend optimisation: these graphs run for microseconds but compile for seconds.
_FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def _jit(f, **kw):
    return jax.jit(f, compiler_options=_FAST_COMPILE, **kw)


def _perturb(params, scale=0.2, seed=7):
    """Random nonzero parameters (zero-initialised layers would hide most of the network).

    numpy noise: eager jax.random would compile one sampler per parameter shape.
    """
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda l: l + jnp.asarray(scale * rng.normal(size=l.shape), l.dtype), params)


_CACHE: dict = {}


def _family(name):
    """(model, jitted apply, init params, perturbed params), cached across tests."""
    if name not in _CACHE:
        model = models.get_model(FAMILIES[name])
        x = _x()
        params = _jit(model.init)(_key(0), x, _labels(model))
        apply = _jit(model.apply, static_argnames="train")
        _CACHE[name] = (model, apply, params, _perturb(params))
    return _CACHE[name]


# --------------------------------------------------------------------------- networks

@pytest.mark.parametrize("name", list(FAMILIES))
def test_family_runs_zero_init_and_zero_score(name):
    model, apply, params, pert = _family(name)
    x, labels = _x(), _labels(model)
    # init_scale = 0 (and DDPM's fixed zero final conv): the fresh network outputs exactly zero.
    out0 = apply(params, x, labels)
    assert out0.shape == x.shape and out0.dtype == jnp.float32
    assert float(jnp.max(jnp.abs(out0))) == 0.0
    out = apply(pert, x, labels)
    assert out.shape == x.shape and out.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(out))) and float(jnp.std(out)) > 0
    assert jax.tree.all(jax.tree.map(lambda p: p.dtype == jnp.float32, params))

    # ... so the score built from it is zero, whatever the SDE / parametrisation.
    if getattr(model, "embedding_type", "positional") == "fourier":
        sde, label, output = sde_lib.VESDE(sigma_min=0.01, sigma_max=50.0, N=1000), "sigma", "score"
    else:
        sde, label, output = sde_lib.VPSDE(), "time", "eps"
    score_fn = models.make_score_fn(sde, apply, params, output=output, label=label)
    t = jnp.array([0.2, 0.9])
    s = score_fn(x, t)
    assert s.shape == x.shape and float(jnp.max(jnp.abs(s))) == 0.0


def test_eps_output_score_matches_minus_out_over_sigma_vpsde():
    model, apply, _, pert = _family("ddpm")
    sde = sde_lib.VPSDE(beta_min=0.1, beta_max=20.0, N=1000)
    x = _x(3)
    t = jnp.array([0.05, 0.6])
    score = models.make_score_fn(sde, apply, pert, output="eps", label="time")(x, t)
    # Independent closed form: σ_t² = 1 - exp(-½ t² (β1 - β0) - t β0); labels t·(N-1).
    tt = np.asarray(t, np.float64)
    sigma = np.sqrt(1.0 - np.exp(-0.5 * tt**2 * (20.0 - 0.1) - tt * 0.1))
    out = np.asarray(apply(pert, x, jnp.asarray(tt * 999.0, jnp.float32)))
    expected = -out / sigma[:, None, None, None]
    np.testing.assert_allclose(np.asarray(score), expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())
    assert np.abs(expected).max() > 0


def test_scale_by_sigma_divides_output_by_sigma():
    model, apply, _, pert = _family("ncsnpp_skip")
    assert model.scale_by_sigma
    x, labels = _x(1), _labels(model)
    plain = model.clone(scale_by_sigma=False)
    a = np.asarray(apply(pert, x, labels))
    b = np.asarray(_jit(plain.apply)(pert, x, labels))
    np.testing.assert_allclose(a, b / np.asarray(labels)[:, None, None, None], rtol=1e-5, atol=1e-6)


def test_uncentered_input_is_rescaled_to_minus_one_one():
    model, apply, _, pert = _family("ddpmpp")
    assert model.centered
    x, labels = 2.0 * _x(5) - 1.0, _labels(model)
    unc = model.clone(centered=False)
    a = np.asarray(apply(pert, x, labels))
    b = np.asarray(_jit(unc.apply)(pert, (x + 1.0) / 2.0, labels))
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_bfloat16_compute_keeps_float32_params_and_matches_float32():
    model, apply, params, pert = _family("ncsnpp_skip")
    m16 = model.clone(dtype=jnp.bfloat16)
    x, labels = _x(2), _labels(model)
    shapes = jax.eval_shape(m16.init, _key(0), x, labels)
    assert jax.tree.all(jax.tree.map(lambda p: p.dtype == jnp.float32, shapes))
    assert jax.tree.structure(shapes) == jax.tree.structure(params)
    small = _perturb(params, scale=0.05)
    ref = np.asarray(apply(small, x, labels))
    out = _jit(m16.apply)(small, x, labels)
    assert out.dtype == jnp.float32 and out.shape == x.shape
    out = np.asarray(out)
    assert np.all(np.isfinite(out))
    rel = np.linalg.norm(out - ref) / np.linalg.norm(ref)
    assert rel < 0.05, rel


def test_dropout_random_in_train_and_deterministic_in_eval():
    base, _, _, pert = _family("ddpmpp")
    model = base.clone(dropout=0.3)
    x, labels = _x(4), _labels(model)
    run = _jit(model.apply, static_argnames="train")
    k1, k2 = jax.random.PRNGKey(1), jax.random.PRNGKey(2)
    a = run(pert, x, labels, train=True, rngs={"dropout": k1})
    a_again = run(pert, x, labels, train=True, rngs={"dropout": k1})
    b = run(pert, x, labels, train=True, rngs={"dropout": k2})
    np.testing.assert_array_equal(np.asarray(a), np.asarray(a_again))
    assert float(jnp.max(jnp.abs(a - b))) > 1e-3
    e1 = run(pert, x, labels, train=False, rngs={"dropout": k1})
    e2 = run(pert, x, labels, train=False, rngs={"dropout": k2})
    np.testing.assert_array_equal(np.asarray(e1), np.asarray(e2))
    assert float(jnp.max(jnp.abs(a - e1))) > 1e-3


# --------------------------------------------------------------------------- registry / config

def test_registry_and_ddpmpp_defaults():
    for name in ("ncsnpp", "ddpmpp", "ddpm"):
        assert name in models.MODELS
    m = models.get_model(small_unet_config("ddpmpp"))
    assert isinstance(m, NCSNpp)
    assert (m.resblock_type, m.progressive, m.progressive_input, m.embedding_type, m.fir,
            m.scale_by_sigma) == ("biggan", "none", "none", "positional", False, False)
    n = models.get_model(small_unet_config("ncsnpp"))
    assert (n.resblock_type, n.progressive, n.progressive_input, n.embedding_type, n.fir,
            n.scale_by_sigma) == ("biggan", "output_skip", "input_skip", "fourier", True, True)
    assert isinstance(models.get_model(small_unet_config("ddpm")), DDPM)
    cfg = small_unet_config("ncsnpp")
    cfg.dtype = "bfloat16"
    assert models.get_model(cfg).dtype == jnp.bfloat16


@pytest.mark.parametrize("key,value,listed", [
    ("resblock_type", "resnet", "biggan"),
    ("progressive", "skip", "output_skip"),
    ("progressive_input", "output_skip", "input_skip"),
    ("progressive_combine", "mean", "cat"),
    ("embedding_type", "learned", "positional"),
    ("nonlinearity", "gelu2", "swish"),
    ("dtype", "float8", "bfloat16"),
])
def test_unknown_choices_raise_listing_valid_values(key, value, listed):
    cfg = small_unet_config("ncsnpp")
    cfg[key] = value
    with pytest.raises(ValueError, match=listed):
        models.get_model(cfg)


def test_impossible_configs_raise_early():
    with pytest.raises(ValueError, match="scale_by_sigma"):
        models.get_model(_cfg("ncsnpp", embedding_type="positional"))
    with pytest.raises(ValueError, match="nf"):
        models.get_model(_cfg("ddpm", nf=2))
    with pytest.raises(ValueError, match="divisible"):
        models.get_model(_cfg("ddpm", ch_mult=(1, 2, 2, 2))).init(_key(0), jnp.zeros((1, 4, 4, 1)),
                                                                  jnp.zeros((1,)))
    with pytest.raises(ValueError, match="unknown U-Net"):
        small_unet_config("unet3d")


# --------------------------------------------------------------------------- FIR resampling

def _upfirdn2d_reference(x, k, up, down, pad0, pad1):
    """Direct numpy upfirdn2d on [B, H, W, C] with a 2-D kernel (true convolution)."""
    Bn, Hn, Wn, Cn = x.shape
    z = np.zeros((Bn, Hn * up, Wn * up, Cn))
    z[:, ::up, ::up] = x
    z = np.pad(z, ((0, 0), (pad0, pad1), (pad0, pad1), (0, 0)))
    kh, kw = k.shape
    kf = k[::-1, ::-1]
    oh, ow = z.shape[1] - kh + 1, z.shape[2] - kw + 1
    y = np.zeros((Bn, oh, ow, Cn))
    for i in range(kh):
        for j in range(kw):
            y += kf[i, j] * z[:, i:i + oh, j:j + ow]
    return y[:, ::down, ::down]


@pytest.mark.parametrize("up,down,pad", [(2, 1, (2, 1)), (1, 2, (1, 1)), (1, 1, (1, 2)), (2, 1, (-1, 1))])
def test_upfirdn2d_matches_direct_reference(up, down, pad):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 6, 3))
    k1 = np.array([1.0, 2.0, 5.0, 3.0])          # asymmetric: checks the kernel flip
    got = np.asarray(resample.upfirdn2d(jnp.asarray(x, jnp.float32), k1, up=up, down=down, pad=pad))
    if min(pad) >= 0:
        ref = _upfirdn2d_reference(x, np.outer(k1, k1), up, down, *pad)
    else:  # crop the reference computed without cropping
        p0, p1 = pad
        full = _upfirdn2d_reference(x, np.outer(k1, k1), up, down, 0, p1)
        ref = full[:, -p0:, -p0:]
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4)
    if min(pad) >= 0:
        k2 = rng.normal(size=(3, 3))             # non-separable kernel: depthwise-conv path
        got2 = np.asarray(resample.upfirdn2d(jnp.asarray(x, jnp.float32), k2, up=up, down=down, pad=pad))
        np.testing.assert_allclose(got2, _upfirdn2d_reference(x, k2, up, down, *pad), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("k", [(1, 3, 3, 1), (1, 1), (1, 2, 1), ((1, 2, 1), (2, 4, 2), (1, 2, 1))])
def test_fir_resampling_keeps_constants_and_mass(k):
    c = jnp.full((1, 16, 16, 2), 2.5)
    up = np.asarray(resample.upsample_2d(c, k))
    down = np.asarray(resample.downsample_2d(c, k))
    assert up.shape == (1, 32, 32, 2) and down.shape == (1, 8, 8, 2)
    # Constant away from the zero-padded border (kernel support is at most 4 taps).
    np.testing.assert_allclose(up[:, 3:-3, 3:-3], 2.5, rtol=1e-6)
    np.testing.assert_allclose(down[:, 2:-2, 2:-2], 2.5, rtol=1e-6)
    # An image supported away from the border: the means of up, down and down∘up all equal its own.
    rng = np.random.default_rng(1)
    x = np.zeros((2, 16, 16, 3), np.float32)
    x[:, 4:12, 4:12] = rng.normal(size=(2, 8, 8, 3))
    xj = jnp.asarray(x)
    mean = x.mean(axis=(1, 2))
    for y in (resample.upsample_2d(xj, k), resample.downsample_2d(xj, k),
              resample.downsample_2d(resample.upsample_2d(xj, k), k)):
        np.testing.assert_allclose(np.asarray(y).mean(axis=(1, 2)), mean, rtol=1e-5, atol=1e-6)


def test_nearest_kernel_is_exact_everywhere():
    c = jnp.full((1, 8, 8, 1), -1.5)
    np.testing.assert_allclose(np.asarray(resample.upsample_2d(c, (1, 1))), -1.5, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(resample.downsample_2d(c, (1, 1))), -1.5, rtol=1e-6)
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 3))
    np.testing.assert_allclose(resample.upsample_2d(x, (1, 1)), resample.naive_upsample_2d(x), atol=1e-6)
    np.testing.assert_allclose(resample.downsample_2d(x, (1, 1)), resample.naive_downsample_2d(x), atol=1e-6)


def test_fused_fir_convs_match_unfused_in_the_interior():
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 3))
    w = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 3, 4))
    k = (1, 3, 3, 1)

    def conv(z):
        return jax.lax.conv_general_dilated(z, w, (1, 1), "SAME",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))

    up_f = np.asarray(resample.upsample_conv_2d(x, w, k))
    up_u = np.asarray(conv(resample.upsample_2d(x, k)))
    assert up_f.shape == up_u.shape == (2, 16, 16, 4)
    # They differ only where the unfused version's intermediate padding is seen.
    np.testing.assert_allclose(up_f[:, 3:-3, 3:-3], up_u[:, 3:-3, 3:-3], rtol=1e-4, atol=1e-4)
    dn_f = np.asarray(resample.conv_downsample_2d(x, w, k))
    dn_u = np.asarray(resample.downsample_2d(conv(x), k))
    assert dn_f.shape == dn_u.shape == (2, 4, 4, 4)
    np.testing.assert_allclose(dn_f[:, 1:-1, 1:-1], dn_u[:, 1:-1, 1:-1], rtol=1e-4, atol=1e-4)


def test_group_norm_matches_flax():
    import flax.linen as nn
    from models.layers import GroupNorm
    x = 3.0 + 2.0 * jax.random.normal(jax.random.PRNGKey(0), (2, 4, 4, 16))
    ours = GroupNorm(num_groups=4)
    p = ours.init(jax.random.PRNGKey(0), x)
    p = _perturb(p, scale=1.0)
    ref = nn.GroupNorm(num_groups=4, epsilon=1e-6).apply(p, x)
    np.testing.assert_allclose(np.asarray(ours.apply(p, x)), np.asarray(ref), rtol=1e-4, atol=1e-4)
    assert math.isclose(float(jnp.std(ours.apply(ours.init(jax.random.PRNGKey(0), x), x))), 1.0, rel_tol=1e-3)


def test_sincos_matches_float64_and_its_derivatives():
    """The embeddings' sin / cos (a polynomial after one range reduction on CPU): within 1e-7 of
    float64 over the arguments the embeddings see (positional labels up to 4000, Fourier features
    up to ~2400), and differentiable with d sin = cos, d cos = -sin."""
    from models.embeddings import _sincos_poly, sincos
    x = np.concatenate([np.linspace(-7, 7, 2001), np.random.default_rng(0).uniform(-5000, 5000, 20000),
                        [0.0, np.pi / 4, np.pi / 2, np.pi, 1e-30]]).astype(np.float32)
    xd = x.astype(np.float64)
    for fn in (sincos, _sincos_poly):
        s, c = jax.jit(fn)(jnp.asarray(x))
        assert np.abs(np.asarray(s, np.float64) - np.sin(xd)).max() < 1e-7
        assert np.abs(np.asarray(c, np.float64) - np.cos(xd)).max() < 1e-7
    pts = jnp.asarray([0.3, 2.0, -4.0, 100.0])
    ds = jax.vmap(jax.grad(lambda v: sincos(v)[0]))(pts)
    dc = jax.vmap(jax.grad(lambda v: sincos(v)[1]))(pts)
    np.testing.assert_allclose(ds, np.cos(np.asarray(pts, np.float64)), atol=1e-6)
    np.testing.assert_allclose(dc, -np.sin(np.asarray(pts, np.float64)), atol=1e-6)
    # the embedding keeps the input dtype for bf16 callers
    assert _sincos_poly(jnp.ones(3, jnp.bfloat16))[0].dtype == jnp.bfloat16
