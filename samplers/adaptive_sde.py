"""Adaptive reverse-SDE solver of Jolicoeur-Martineau et al. (2021), "Gotta Go Fast".

Each sample carries its own time t_b and step h_b. One iteration, for the whole batch, with
ΔW ~ N(0, h I) the Brownian increment over [t - h, t]:

    K1 = -h f̄(x, t) + ḡ(t) ΔW,         x' = x + K1                (Euler–Maruyama)
    K2 = -h f̄(x', t-h) + ḡ(t-h) ΔW,    x'' = x + (K1 + K2) / 2   (improved Euler, same ΔW)

where f̄ = f - g² s is the reverse drift. The difference x' - x'' estimates the local error;
it is scaled per entry by δ = max(atol, rtol · max(|x'|, |x'_prev|)) (x'_prev: the sample's
last accepted Euler–Maruyama proposal) and reduced to one number per sample with the scaled
ℓ2 norm ‖·‖₂ / sqrt(n). A sample whose error is <= 1 moves to x'' (extrapolation, the default)
or x', and every sample sets h ← min(t - eps, h · safety · err^-exponent). Samples that reach
eps stop moving. Each iteration is two score calls on the full batch, so nfe = 2 · iterations
(+ 1 with ``denoise``).

Rejected steps and the noise. The error estimate is linear in ΔW, so if a rejected step simply
redraws its noise (the paper's algorithm) the accepted increments are those with small ‖ΔW‖:
the noise is no longer Brownian. With n in the thousands ‖ΔW‖/sqrt(n) hardly varies and the
effect is invisible, but in low dimension it biases the samples at any tolerance (on the 2-D
ring the within-mode spread roughly doubles, and tightening the tolerance makes it worse). So
by default (``brownian_memory=True``) rejections keep the Brownian path, in the spirit of
Rackauckas & Nie's "rejection sampling with memory" (2017): each sample keeps a short queue of
already-drawn future increments; a smaller retry splits the rejected increment with a Brownian
bridge, W(a) | W(L) ~ N((a/L) W(L), a (L - a)/L), and a step reaching past the queue draws only
the excess fresh. The path then has the law of a Brownian motion whatever the step choices, so
the solution converges to the reverse SDE's as the tolerance shrinks. The queue holds
``_QUEUE`` segments per sample (memory ``_QUEUE`` × x); on overflow the two farthest segments
are merged (forgetting one bridge point), which needs that many consecutive rejections.
``brownian_memory=False`` is the paper's redraw-on-reject, for comparison.

The growth factor is kept within [0.1, 10] so one step with a vanishing or non-finite error
estimate can neither stall nor explode the step size.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from sde_lib import SDE, bcast
from samplers.rk45 import check_tolerances
from samplers.schedules import check_eps, data_prediction, draw_prior

_MIN_FACTOR, _MAX_FACTOR = 0.1, 10.0
_QUEUE = 8


def _gather(seg, idx):
    """Per-sample reorder of queue entries: out[k, b] = seg[idx[k, b], b]."""
    return jnp.take_along_axis(seg, bcast(idx, seg), axis=0)


def _select(mask, a, b):
    """Per-sample choice for ``[B]`` and ``[K, B, ...]`` queue arrays, mask ``[B]``."""
    if a.ndim > 1:
        mask = mask.reshape((1, -1) + (1,) * (a.ndim - 2))
    return jnp.where(mask, a, b)


class _Queue:
    """Future Brownian segments per sample, in time order: durations ``dt [K, B]``, increments
    ``dw [K, B, ...]``, and the count ``n [B]`` of valid leading entries."""

    @staticmethod
    def init(x):
        b = x.shape[0]
        return {"dt": jnp.zeros((_QUEUE, b), x.dtype), "dw": jnp.zeros((_QUEUE,) + x.shape, x.dtype),
                "n": jnp.zeros((b,), jnp.int32)}

    @staticmethod
    def make_room(q):
        """Merge the last two entries of full queues, so one insertion always fits."""
        full = q["n"] == _QUEUE
        k = jnp.arange(_QUEUE)[:, None]
        dt = q["dt"].at[_QUEUE - 2].add(jnp.where(full, q["dt"][_QUEUE - 1], 0.0))
        dw = q["dw"].at[_QUEUE - 2].add(jnp.where(bcast(full, q["dw"][0]), q["dw"][_QUEUE - 1], 0.0))
        dt = jnp.where(full[None] & (k == _QUEUE - 1), 0.0, dt)
        return {"dt": dt, "dw": dw, "n": q["n"] - full.astype(jnp.int32)}

    @staticmethod
    def increment(q, h, xi):
        """The Brownian increment over the next h (per sample), with standard noise ``xi``.

        Returns (ΔW, queue if the step is accepted, queue if it is rejected).
        """
        k = jnp.arange(_QUEUE)[:, None]                          # [K, 1]
        n = q["n"][None]                                         # [1, B]
        valid = k < n
        dt = jnp.where(valid, q["dt"], 0.0)
        ends = jnp.cumsum(dt, axis=0)                            # end offset of each segment
        whole = valid & (ends <= h[None])                        # used completely by this step
        m = jnp.sum(whole, axis=0)                               # [B]: first segment not used whole
        start = jnp.sum(jnp.where(whole, dt, 0.0), axis=0)
        a = jnp.maximum(h - start, 0.0)                          # still to cover after them
        partial = m < q["n"]                                     # segment m straddles t - h
        mi = jnp.minimum(m, _QUEUE - 1)[None]
        seg_len = jnp.take_along_axis(q["dt"], mi, axis=0)[0]
        seg_w = _gather(q["dw"], mi)[0]
        safe_len = jnp.where(partial, seg_len, 1.0)
        frac = jnp.where(partial, a / safe_len, 0.0)
        bridge_std = jnp.sqrt(jnp.maximum(a * (seg_len - a) / safe_len, 0.0))
        fresh_std = jnp.sqrt(a)
        w_a = jnp.where(bcast(partial, xi), bcast(frac, xi) * seg_w + bcast(bridge_std, xi) * xi,
                        bcast(fresh_std, xi) * xi)
        dw_whole = jnp.sum(jnp.where(bcast(whole, q["dw"]), q["dw"], 0.0), axis=0)
        dW = dw_whole + w_a

        # Accepted: drop the whole segments; the straddled one keeps its remainder at the front.
        idx = jnp.minimum(k + m[None], _QUEUE - 1)
        acc_dt = jnp.take_along_axis(q["dt"], idx, axis=0)
        acc_dw = _gather(q["dw"], idx)
        front = (k == 0) & partial[None]
        acc_dt = jnp.where(front, (seg_len - a)[None], acc_dt)
        acc_dw = jnp.where(bcast(front, acc_dw), (seg_w - w_a)[None], acc_dw)
        acc = {"dt": acc_dt, "dw": acc_dw, "n": jnp.where(partial, q["n"] - m, 0)}

        # Rejected: keep everything, split the straddled segment at t - h (or append the fresh
        # excess behind the queue) so the retry and later steps see the same path.
        src = jnp.where(k <= m[None], k, k - 1)
        rej_dt = jnp.take_along_axis(q["dt"], src, axis=0)
        rej_dw = _gather(q["dw"], src)
        at_m = k == m[None]
        after = (k == m[None] + 1) & partial[None]
        rej_dt = jnp.where(at_m, a[None], jnp.where(after, (seg_len - a)[None], rej_dt))
        rej_dw = jnp.where(bcast(at_m, rej_dw), w_a[None],
                           jnp.where(bcast(after, rej_dw), (seg_w - w_a)[None], rej_dw))
        grows = partial | (a > 0)
        rej = {"dt": rej_dt, "dw": rej_dw, "n": q["n"] + grows.astype(jnp.int32)}
        return dW, acc, rej


def adaptive_sde_sample(rng, sde: SDE, score_fn, shape, *, rtol: float = 0.05,
                        atol: float = 0.0078, eps: float = 1e-3, h_init: float = 0.01,
                        safety: float = 0.9, exponent: float = 0.9, extrapolate: bool = True,
                        brownian_memory: bool = True, max_steps: int = 10000,
                        denoise: bool = False):
    """Sample the reverse SDE with per-sample adaptive steps from T down to ``eps``.

    Defaults are the paper's (atol 0.0078, rtol 0.05, first step 0.01, safety 0.9, exponent
    0.9, extrapolation on) plus ``brownian_memory`` (see the module docstring). ``max_steps``
    bounds the iterations (2 score calls each); samples that have not reached eps by then come
    back NaN. Returns ``(x, nfe)``.
    """
    check_tolerances(rtol, atol, max_steps, "i")
    check_eps(sde, eps)
    if not float(h_init) > 0:
        raise ValueError(f"h_init must be > 0; got {h_init}")
    rsde = sde.reverse(score_fn)
    rng, x = draw_prior(rng, sde, shape)
    b = shape[0]
    n = x[0].size
    eps = jnp.asarray(eps, x.dtype)
    t = jnp.full((b,), sde.T, x.dtype)
    h = jnp.minimum(jnp.full((b,), h_init, x.dtype), t - eps)

    def cond(c):
        return jnp.any(c["t"] > eps) & (c["it"] < max_steps)

    def body(c):
        rng, k = jax.random.split(c["rng"])
        x, t, h = c["x"], c["t"], c["h"]
        active = t > eps
        last = h >= t - eps
        t_next = jnp.where(last, eps, t - h)
        xi = jax.random.normal(k, x.shape, x.dtype)
        if brownian_memory:
            queue = _Queue.make_room(c["queue"])
            dW, q_acc, q_rej = _Queue.increment(queue, h, xi)
        else:
            dW = bcast(jnp.sqrt(h), x) * xi
        drift1, g1 = rsde.sde(x, t)
        k1 = -bcast(h, x) * drift1 + bcast(g1, x) * dW
        x_em = x + k1
        drift2, g2 = rsde.sde(x_em, t_next)
        k2 = -bcast(h, x) * drift2 + bcast(g2, x) * dW
        x_heun = x + 0.5 * (k1 + k2)
        delta = jnp.maximum(atol, rtol * jnp.maximum(jnp.abs(x_em), jnp.abs(c["x_prev"])))
        ratio = jnp.reshape((x_em - x_heun) / delta, (b, -1))
        err = jnp.sqrt(jnp.sum(ratio**2, axis=1) / n)
        err = jnp.where(jnp.isfinite(err), err, jnp.inf)
        accept = active & (err <= 1.0)
        acc = bcast(accept, x)
        x_new = jnp.where(acc, x_heun if extrapolate else x_em, x)
        x_prev = jnp.where(acc, x_em, c["x_prev"])
        t_new = jnp.where(accept, t_next, t)
        factor = jnp.clip(safety * jnp.maximum(err, 1e-10) ** (-exponent), _MIN_FACTOR, _MAX_FACTOR)
        h_new = jnp.where(t_new > eps, jnp.minimum(h * factor, t_new - eps), 0.0)
        out = {"rng": rng, "x": x_new, "x_prev": x_prev, "t": t_new, "h": h_new, "it": c["it"] + 1}
        if brownian_memory:
            keep = active & ~accept            # finished samples leave their queue as it is
            out["queue"] = jax.tree.map(
                lambda a_, r_, q_: _select(accept, a_, _select(keep, r_, q_)), q_acc, q_rej, queue)
        return out

    init = {"rng": rng, "x": x, "x_prev": x, "t": t, "h": h, "it": jnp.asarray(0, jnp.int32)}
    if brownian_memory:
        init["queue"] = _Queue.init(x)
    out = jax.lax.while_loop(cond, body, init)
    done = bcast(out["t"] <= eps, x)
    x = jnp.where(done, out["x"], jnp.nan)
    nfe = 2 * out["it"]
    if denoise:
        x = data_prediction(sde, score_fn, x, jnp.full((b,), eps, x.dtype))
        nfe = nfe + 1
    return x, nfe.astype(jnp.int32)
