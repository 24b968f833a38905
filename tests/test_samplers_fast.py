"""Fast samplers: exact NFE counts, registries and their errors, schedules, the RK45 core, and
the Brownian memory of the adaptive SDE solver. Everything on small batches and analytic scores."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import samplers
import sde_lib
from samplers.adaptive_sde import _QUEUE, _Queue, _select

SDES = {"vp": lambda: sde_lib.VPSDE(), "subvp": lambda: sde_lib.subVPSDE(), "ve": lambda: sde_lib.VESDE()}


def counting(score_fn):
    """Wrap score_fn so every real evaluation (also inside while loops and jvps) bumps a counter."""
    calls = [0]

    def bump():
        calls[0] += 1

    def wrapped(x, t):
        jax.debug.callback(bump)
        return score_fn(x, t)
    return wrapped, calls


RING = sde_lib.GaussianMixture.ring()

CASES = [
    ("ode", {}),
    ("ode", {"rtol": 1e-3, "atol": 1e-3, "denoise": True, "controller": "i"}),
    ("ode", {"first_step": 0.01}),
    ("ddim", {"num_steps": 7}),
    ("ddim", {"num_steps": 5, "eta": 1.0, "schedule": "edm", "denoise": True}),
    ("dpm_solver_pp", {"num_steps": 6}),
    ("dpm_solver_pp", {"num_steps": 1, "denoise": True, "schedule": "uniform"}),
    ("heun", {"num_steps": 5}),
    ("heun", {"num_steps": 1, "denoise": True}),
    ("adaptive_sde", {}),
    ("adaptive_sde", {"brownian_memory": False, "extrapolate": False, "denoise": True}),
    ("pc", {"corrector": "langevin", "n_steps": 2}),
]


@pytest.mark.parametrize("method,options", CASES)
def test_nfe_equals_counted_score_calls(method, options):
    sde = sde_lib.VESDE(N=20) if method == "pc" else sde_lib.VESDE()
    score_fn, calls = counting(RING.score_fn(sde))
    x, nfe = samplers.sample(jax.random.PRNGKey(3), sde, score_fn, (8, 2), method=method, **options)
    jax.effects_barrier()
    assert nfe.dtype == jnp.int32 and nfe.shape == ()
    assert int(nfe) == calls[0] > 0
    assert x.shape == (8, 2) and bool(jnp.all(jnp.isfinite(x)))


def test_fixed_step_nfe_formulas():
    sde = sde_lib.VPSDE()
    score = RING.score_fn(sde)
    key = jax.random.PRNGKey(0)
    assert int(samplers.sample(key, sde, score, (4, 2), method="ddim", num_steps=9)[1]) == 9
    assert int(samplers.sample(key, sde, score, (4, 2), method="dpm_solver_pp", num_steps=9, denoise=True)[1]) == 10
    assert int(samplers.sample(key, sde, score, (4, 2), method="heun", num_steps=9)[1]) == 17


def test_unknown_method_and_options_list_valid_ones():
    sde = sde_lib.VPSDE()
    score = RING.score_fn(sde)
    key = jax.random.PRNGKey(0)
    with pytest.raises(ValueError, match="valid names") as e:
        samplers.sample(key, sde, score, (4, 2), method="dpm_solver")
    for name in ("pc", "ode", "ddim", "dpm_solver_pp", "heun", "adaptive_sde"):
        assert name in str(e.value)
    with pytest.raises(TypeError, match="valid options") as e:
        samplers.sample(key, sde, score, (4, 2), method="ddim", steps=10)
    assert "num_steps" in str(e.value) and "eta" in str(e.value)
    with pytest.raises(TypeError, match="valid options") as e:
        samplers.sample(key, sde, score, (4, 2), method="ode", tol=1e-3)
    assert "rtol" in str(e.value)
    with pytest.raises(ValueError, match="valid names") as e:
        samplers.sample(key, sde, score, (4, 2), method="heun", schedule="cosine")
    assert "logsnr" in str(e.value) and "edm" in str(e.value)
    with pytest.raises(ValueError, match="valid names"):
        samplers.sample(key, sde, score, (4, 2), method="ode", controller="pid")
    with pytest.raises(ValueError, match="num_steps"):
        samplers.sample(key, sde, score, (4, 2), method="dpm_solver_pp", num_steps=0)
    with pytest.raises(ValueError, match="eps"):
        samplers.sample(key, sde, score, (4, 2), method="heun", eps=0.0)
    with pytest.raises(ValueError, match="eta"):
        samplers.sample(key, sde, score, (4, 2), method="ddim", eta=-0.5)
    with pytest.raises(ValueError, match="rtol and atol"):
        samplers.sample(key, sde, score, (4, 2), method="adaptive_sde", rtol=0.0, atol=0.0)


def test_registry_is_complete():
    assert {"pc", "ode", "ddim", "dpm_solver_pp", "heun", "adaptive_sde"} <= set(samplers.METHODS)


@pytest.mark.parametrize("name", sorted(SDES))
def test_time_from_log_snr_inverts_log_snr(name):
    sde = SDES[name]()
    t = jnp.linspace(1e-3, 1.0, 37)
    back = sde.time_from_log_snr(sde.log_snr(t))
    np.testing.assert_allclose(back, t, atol=2e-6)
    # Beyond the ends the inverse clips to [0, T].
    ends = sde.time_from_log_snr(jnp.array([1e4, -1e4]))
    np.testing.assert_allclose(ends, [0.0, sde.T], atol=1e-6)


@pytest.mark.parametrize("name", sorted(SDES))
@pytest.mark.parametrize("schedule", samplers.SCHEDULES)
def test_schedules(name, schedule):
    sde = SDES[name]()
    eps, n = 1e-3, 12
    ts = samplers.step_times(sde, n, schedule, eps)
    assert ts.shape == (n + 1,)
    assert float(ts[0]) == sde.T and float(ts[-1]) == np.float32(eps)
    assert bool(jnp.all(jnp.diff(ts) < 0))
    lam = np.asarray(sde.log_snr(ts), np.float64)
    if schedule == "logsnr":
        np.testing.assert_allclose(np.diff(lam), np.full(n, (lam[-1] - lam[0]) / n), rtol=2e-3)
    if schedule == "edm":
        u = np.exp(-0.5 * lam) ** (1 / 7)             # (sigma/alpha)^(1/ρ) is linear in the index
        np.testing.assert_allclose(np.diff(u), np.full(n, (u[-1] - u[0]) / n), rtol=2e-3)
    if schedule == "uniform":
        np.testing.assert_allclose(np.diff(ts), np.full(n, -(sde.T - eps) / n), rtol=1e-4)


def test_step_loop_hands_each_step_its_two_rows():
    from samplers.schedules import step_loop
    ts = jnp.asarray([1.0, 0.7, 0.4, 0.2, 0.05])
    table = (ts, 10 * ts)

    def body(i, cur, nxt, seen):   # record (i, t_i, t_{i+1}, the second leaf's row i + 1)
        return seen.at[i].set(jnp.stack([i.astype(jnp.float32), cur[0], nxt[0], nxt[1]]))
    seen = np.asarray(step_loop(table, body, jnp.zeros((4, 4))))
    np.testing.assert_array_equal(seen[:, 0], np.arange(4))
    np.testing.assert_array_equal(seen[:, 1], np.asarray(ts[:-1]))
    np.testing.assert_array_equal(seen[:, 2], np.asarray(ts[1:]))
    np.testing.assert_array_equal(seen[:, 3], 10 * np.asarray(ts[1:]))
    part = np.asarray(step_loop(table, body, jnp.zeros((4, 4)), num_steps=2))   # stops early
    np.testing.assert_array_equal(part[2:], 0.0)
    np.testing.assert_array_equal(part[:2], seen[:2])
    with pytest.raises(ValueError, match="rows"):
        step_loop((ts, ts[:3]), body, jnp.zeros((4, 4)))
    with pytest.raises(ValueError, match="num_steps"):
        step_loop(ts, body, jnp.zeros((4, 4)), num_steps=5)


def test_dopri5_accuracy_stats_and_failure():
    # Harmonic oscillator as a two-leaf pytree, batch of 3 frequencies, integrated backwards.
    w = jnp.array([1.0, 2.0, 3.0])

    def fn(t, y):
        q, p = y
        return p, -(w**2)[:, None] * q

    y0 = (jnp.ones((3, 1)), jnp.zeros((3, 1)))
    t0, t1 = 2.0, -1.0
    for tol in (1e-4, 1e-6):
        (q, p), st = samplers.dopri5(fn, t0, t1, y0, rtol=tol, atol=tol)
        exact_q = jnp.cos(w * (t1 - t0))[:, None]
        assert bool(st.success)
        assert float(jnp.max(jnp.abs(q - exact_q))) < 30 * tol
        assert int(st.nfe) == 2 + 6 * (int(st.num_accepted) + int(st.num_rejected))
    (q, p), st = samplers.dopri5(fn, t0, t1, y0, rtol=1e-6, atol=1e-6, max_steps=5)
    assert not bool(st.success) and bool(jnp.all(jnp.isnan(q))) and int(st.nfe) == 2 + 6 * 5


def test_dopri5_is_fifth_order():
    # One step of size h on y' = y (huge tolerances: never rejected). The local error of a
    # 5th-order method is O(h^6); float64 so that it stays above round-off.
    def fn(t, y):
        return y
    errs = []
    hs = [0.4, 0.2, 0.1]
    with jax.enable_x64(True):
        for h in hs:
            y, st = samplers.dopri5(fn, 0.0, h, jnp.ones((1, 1), jnp.float64), rtol=1e3, atol=1e3,
                                    first_step=h)
            assert int(st.num_accepted) == 1 and int(st.nfe) == 7
            errs.append(abs(float(y[0, 0]) - math.exp(h)))
    slope = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert 5.6 < slope < 6.4, slope


def _brownian_walk(use_queue, n_paths=20000, horizon=1.0, seed=0):
    """Adversarial step control: reject whenever |ΔW| > 1.5 sqrt(h) (about 13% of fresh
    draws) and retry with h/2, otherwise accept and propose a random new step. Returns W(horizon)
    per path (the walk must reach the horizon)."""
    shape = (n_paths, 1)

    def body(c):
        t, h, w, q, key, it = c
        key, k1, k2 = jax.random.split(key, 3)
        xi = jax.random.normal(k1, shape)
        active = t < horizon
        if use_queue:
            q = _Queue.make_room(q)
            dW, q_acc, q_rej = _Queue.increment(q, h, xi)
        else:
            dW = jnp.sqrt(h)[:, None] * xi
        accept = active & (jnp.abs(dW[:, 0]) <= 1.5 * jnp.sqrt(h))
        t_new = jnp.where(accept, jnp.where(h >= horizon - t, horizon, t + h), t)
        w = jnp.where(accept[:, None], w + dW, w)
        fresh = jax.random.uniform(k2, (n_paths,), minval=0.05, maxval=0.3)
        h_new = jnp.minimum(jnp.where(accept, fresh, 0.5 * h), horizon - t_new)
        if use_queue:
            keep = active & ~accept
            q = jax.tree.map(lambda a, r, o: _select(accept, a, _select(keep, r, o)), q_acc, q_rej, q)
        return t_new, h_new, w, q, key, it + 1

    def cond(c):
        return jnp.any(c[0] < horizon) & (c[5] < 5000)

    init = (jnp.zeros((n_paths,)), jnp.full((n_paths,), 0.2), jnp.zeros(shape),
            _Queue.init(jnp.zeros(shape)), jax.random.PRNGKey(seed), 0)
    t, _, w, _, _, _ = jax.jit(lambda c: jax.lax.while_loop(cond, body, c))(init)
    assert bool(jnp.all(t == horizon))
    return np.asarray(w[:, 0], np.float64)


def test_brownian_memory_keeps_the_path_brownian():
    n = 20000
    w = _brownian_walk(True, n)
    se_var = math.sqrt(2.0 / n)                      # std error of a sample variance of N(0, 1)
    assert abs(w.var() - 1.0) < 4 * se_var, w.var()
    assert abs(w.mean()) < 4 / math.sqrt(n)
    kurt = np.mean(w**4) / w.var() ** 2
    assert abs(kurt - 3.0) < 4 * math.sqrt(24.0 / n), kurt
    # Control: redrawing the noise after a rejection (the original algorithm) shrinks the
    # variance visibly, so the test above has power.
    w_naive = _brownian_walk(False, n)
    assert w_naive.var() < 1.0 - 10 * se_var, w_naive.var()
    assert _QUEUE >= 4
