"""Adaptive Dormand–Prince 5(4) for batched pytrees, the whole solve as one ``lax.while_loop``.

``dopri5(fn, t0, t1, y0, rtol=..., atol=...)`` integrates dy/dt = fn(t, y) from t0 to t1 (either
direction). Every leaf of ``y`` is ``[B, ...]`` with the same batch size B: the step size is
shared by the batch (one ``fn`` call advances every sample), while the error test is per sample,

    err_b = RMS over sample b's entries (all leaves) of  e / (atol + rtol · max(|y|, |y_new|)),

and a step is accepted when max_b err_b <= 1. Taking the worst sample (instead of one RMS over
the whole batch) makes each sample's accuracy independent of the batch it was solved in.

Cost, counted exactly in ``ODEStats.nfe``: one call for fn(t0, y0), one more for the automatic
first step (Hairer's rule; skipped when ``first_step`` is given), then 6 per attempted step,
accepted or rejected. The 7th stage of an accepted step is the first stage of the next (FSAL);
a rejected step keeps its first stage, which is still valid at the unchanged (t, y).

Step-size control: the PI controller of Hairer & Wanner (DOPRI5's ``beta = 0.04``),
h_new = h · safety · err^-(1/5 - 0.75 beta) · err_prev^beta, clipped to [0.2, 10] · h, and
never growing right after a rejection. ``controller="i"`` is the classic h · safety · err^-1/5.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from sde_lib.base import check_int

# Butcher tableau of Dormand & Prince (1980). Row i gives the weights of k_1..k_i for stage i+1;
# the last row is also the 5th-order solution (the FSAL property).
_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_A = (
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
# 5th-order weights minus the embedded 4th-order weights: the local error estimate's weights.
_E = (71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40)

CONTROLLERS = {"pi": 0.04, "i": 0.0}   # name -> beta (the weight of the previous error)
_SAFETY, _MIN_FACTOR, _MAX_FACTOR = 0.9, 0.2, 10.0


class ODEStats(NamedTuple):
    nfe: jax.Array           # int32: calls of fn
    num_accepted: jax.Array  # int32
    num_rejected: jax.Array  # int32
    success: jax.Array       # bool: t1 reached within max_steps


# The same tableau as a dense [7, 7] matrix (row i: weights of k_0..k_6 for stage i's input),
# so a rolled loop over stages can index it.
_A_FULL = np.zeros((7, 7))
for _i, _row in enumerate(_A):
    _A_FULL[_i + 1, : len(_row)] = _row
_B = _A_FULL[6]


def _combine(y, h, ks, weights):
    """y + h Σ_j w_j k_j for a pytree y and stage stacks ks (leaves ``[7, ...]``).

    ``weights`` is a traced array or a float64 numpy row; it is cast per leaf with an explicit
    dtype, so a float64 (x64) solve never sees a float32 copy of the tableau.
    """
    return jax.tree.map(
        lambda y_, k_: y_ + h * jnp.tensordot(jnp.asarray(weights, dtype=k_.dtype), k_, axes=1), y, ks)


def _per_sample_ms(tree) -> jax.Array:
    """Mean of squares per sample over all leaves: ``[B]``."""
    leaves = jax.tree.leaves(tree)
    total = sum(jnp.sum(jnp.reshape(l, (l.shape[0], -1)) ** 2, axis=1) for l in leaves)
    count = sum(l[0].size for l in leaves)
    return total / count


def _worst_rms(tree) -> jax.Array:
    """max over the batch of the per-sample RMS: a scalar."""
    return jnp.sqrt(jnp.max(_per_sample_ms(tree)))


def check_tolerances(rtol: float, atol: float, max_steps: int, controller: str) -> None:
    for name, v in (("rtol", rtol), ("atol", atol)):
        if not isinstance(v, jax.core.Tracer) and not float(v) >= 0:
            raise ValueError(f"{name} must be >= 0; got {v}")
    if not isinstance(rtol, jax.core.Tracer) and not isinstance(atol, jax.core.Tracer) \
            and float(rtol) == 0 and float(atol) == 0:
        raise ValueError("rtol and atol cannot both be 0")
    check_int("max_steps", max_steps)
    if controller not in CONTROLLERS:
        raise ValueError(f"unknown step-size controller {controller!r}; valid names: {sorted(CONTROLLERS)}")


def _initial_step(fn, t0, y0, f0, direction, span, rtol, atol):
    """Hairer, Nørsett & Wanner (1993), II.4: a first step from the size of y, y' and y''."""
    scale = jax.tree.map(lambda y: atol + rtol * jnp.abs(y), y0)
    d0 = _worst_rms(jax.tree.map(jnp.divide, y0, scale))
    d1 = _worst_rms(jax.tree.map(jnp.divide, f0, scale))
    h0 = jnp.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / d1)
    h0 = jnp.minimum(h0, span)
    y1 = jax.tree.map(lambda y, f: y + (direction * h0) * f, y0, f0)
    f1 = fn(t0 + direction * h0, y1)
    d2 = _worst_rms(jax.tree.map(lambda a, b, s: (a - b) / s, f1, f0, scale)) / h0
    dmax = jnp.maximum(d1, d2)
    h1 = jnp.where(dmax <= 1e-15, jnp.maximum(1e-6, h0 * 1e-3), (0.01 / dmax) ** (1 / 5))
    return jnp.minimum(jnp.minimum(100 * h0, h1), span)


def dopri5(fn: Callable, t0: float, t1: float, y0, *, rtol: float = 1e-5, atol: float = 1e-5,
           max_steps: int = 4096, first_step: float | None = None, controller: str = "pi"):
    """Solve dy/dt = fn(t, y) from t0 to t1; returns ``(y(t1), ODEStats)``.

    ``fn(t, y)`` takes a scalar time and the pytree state. ``max_steps`` bounds the attempted
    steps, so nfe <= 2 + 6 · max_steps. If t1 is not reached every entry of the returned state
    is NaN and ``stats.success`` is False (inside a compiled program there is nothing better to
    raise); raise ``max_steps`` or loosen the tolerances.
    """
    check_tolerances(rtol, atol, max_steps, controller)
    beta = CONTROLLERS[controller]
    expo = 1 / 5 - 0.75 * beta
    # Time in the state's float type: float32 by default, float64 under x64 for reference solves.
    tdtype = jnp.result_type(*jax.tree.leaves(y0))
    if not jnp.issubdtype(tdtype, jnp.floating):
        raise TypeError(f"the ODE state must be floating point; got {tdtype}")
    t0 = jnp.asarray(t0, tdtype)
    t1 = jnp.asarray(t1, tdtype)
    direction = jnp.sign(t1 - t0)
    span = jnp.abs(t1 - t0)

    f0 = fn(t0, y0)
    if first_step is None:
        h = _initial_step(fn, t0, y0, f0, direction, span, rtol, atol)
        nfe0 = 2
    else:
        h = jnp.minimum(jnp.abs(jnp.asarray(first_step, tdtype)), span)
        nfe0 = 1

    def attempt(t, h, y, k1):
        remaining = jnp.abs(t1 - t)
        last = h >= remaining
        h_signed = direction * jnp.minimum(h, remaining)
        c = jnp.asarray(_C, dtype=tdtype)
        # Stages 2..7 in a rolled loop: the program holds one copy of fn (a score network
        # compiles once, not six times).
        ks = jax.tree.map(lambda k: jnp.zeros((7,) + k.shape, k.dtype).at[0].set(k), k1)

        def stage(i, ks):
            y_stage = _combine(y, h_signed, ks, jnp.asarray(_A_FULL, dtype=tdtype)[i])
            t_stage = jnp.where(last & (c[i] == 1.0), t1, t + c[i] * h_signed)
            k = fn(t_stage, y_stage)
            return jax.tree.map(lambda buf, v: buf.at[i].set(v), ks, k)

        ks = jax.lax.fori_loop(1, 7, stage, ks)
        y_new = _combine(y, h_signed, ks, _B)   # the 7th stage's input: the 5th-order solution
        t_new = jnp.where(last, t1, t + h_signed)
        err = _combine(jax.tree.map(jnp.zeros_like, y), h_signed, ks, _E)
        scaled = jax.tree.map(lambda e, a, b: e / (atol + rtol * jnp.maximum(jnp.abs(a), jnp.abs(b))),
                              err, y, y_new)
        err_norm = _worst_rms(scaled)
        err_norm = jnp.where(jnp.isfinite(err_norm), err_norm, jnp.inf)
        return t_new, y_new, jax.tree.map(lambda k: k[6], ks), err_norm, jnp.abs(h_signed)

    def cond(c):
        return (~c["done"]) & (c["n_acc"] + c["n_rej"] < max_steps)

    def body(c):
        t_new, y_new, k_new, err, h_used = attempt(c["t"], c["h"], c["y"], c["k1"])
        accept = err <= 1.0
        # PI factor on acceptance, I factor (capped at 1) on rejection.
        safe_err = jnp.maximum(err, 1e-10)
        grow = _SAFETY * safe_err ** (-expo) * c["err_prev"] ** beta
        grow = jnp.where(c["rejected_last"], jnp.minimum(grow, 1.0), grow)
        shrink = jnp.minimum(1.0, _SAFETY * safe_err ** (-1 / 5))
        factor = jnp.clip(jnp.where(accept, grow, shrink), _MIN_FACTOR, _MAX_FACTOR)
        pick = lambda a, b: jax.tree.map(lambda u, v: jnp.where(accept, u, v), a, b)
        return {
            "t": jnp.where(accept, t_new, c["t"]),
            "h": h_used * factor,
            "y": pick(y_new, c["y"]),
            "k1": pick(k_new, c["k1"]),
            "err_prev": jnp.where(accept, jnp.maximum(err, 1e-4), c["err_prev"]),
            "rejected_last": ~accept,
            "done": accept & (t_new == t1),
            "n_acc": c["n_acc"] + accept.astype(jnp.int32),
            "n_rej": c["n_rej"] + (~accept).astype(jnp.int32),
        }

    init = {
        "t": t0, "h": h, "y": y0, "k1": f0,
        "err_prev": jnp.asarray(1e-4, tdtype),
        "rejected_last": jnp.asarray(False),
        "done": span == 0,
        "n_acc": jnp.asarray(0, jnp.int32), "n_rej": jnp.asarray(0, jnp.int32),
    }
    out = jax.lax.while_loop(cond, body, init)
    y = jax.tree.map(lambda v: jnp.where(out["done"], v, jnp.nan), out["y"])
    attempts = out["n_acc"] + out["n_rej"]
    stats = ODEStats(nfe=(nfe0 + 6 * attempts).astype(jnp.int32), num_accepted=out["n_acc"],
                     num_rejected=out["n_rej"], success=out["done"])
    return y, stats
