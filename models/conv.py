"""2-D convolutions (NHWC / HWIO) with a backward pass XLA:CPU runs as fast inside loops as outside.

Why: XLA:CPU (jax 0.10.2) computes the gradients of a convolution as convolutions with
non-canonical dimension numbers (features and batch swapped); outside a loop that is fine, but
inside a ``while`` loop (``lax.fori_loop`` / ``scan``: DPS's posterior steps, multi-step
training calls) those ran 35-40x slower than the same gradient outside (measured: a 3x3 conv at
32 px, batch 16, 32 channels: 11 ms outside, 426 ms per iteration inside). Written as ordinary
forward convolutions on explicitly transposed operands, the same gradients run at the same speed
in both places (11-12 ms) and equal XLA's to float rounding.

But a ``jax.custom_vjp`` function has no forward-mode derivative, and the library also needs
``jvp`` / ``linearize`` through the network (Hutchinson likelihoods, sliced score matching,
MMPS) and higher orders. So the hand-written rule is used only where first-order reverse mode
is all that is needed, and only while tracing inside :func:`reverse_mode_convs` (the training
step of the dsm / ddpm / smld losses, DPS). Everywhere else :func:`conv2d` is
``lax.conv_general_dilated`` itself, with every JAX transformation available.

The rule (stride s, explicit padding, lhs dilation d for transposed convolutions):
- weight gradient: ``dW[i, j] = Σ_{n, h, w} x̃[n, s h + i, s w + j] · g[n, h, w]`` with x̃ the
  padded (and dilated) input, a forward convolution of ``x̃ᵀ: [C_in, H, W, N]`` with
  ``gᵀ: [H_out, W_out, N, C_out]`` as the kernel (``rhs_dilation = s``);
- input gradient: ``g`` dilated by s, correlated with the flipped, io-swapped kernel, cropped
  to the padded input and then to the original positions.
"""
from __future__ import annotations

import contextlib
import contextvars
from typing import Sequence

import jax
import jax.numpy as jnp
from jax import lax

_DN = ("NHWC", "HWIO", "NHWC")
_REVERSE_ONLY = contextvars.ContextVar("score_sde_reverse_only_convs", default=False)


@contextlib.contextmanager
def reverse_mode_convs(enabled: bool = True):
    """While tracing inside this block, :func:`conv2d` gets the loop-friendly hand-written VJP.

    Use it only around code that differentiates the network in first-order reverse mode alone
    (``jax.grad`` / ``jax.vjp``): a ``jvp`` through it raises. The choice is made at trace time,
    so wrap the body of the function being jitted, not the call of a compiled function.
    """
    token = _REVERSE_ONLY.set(bool(enabled))
    try:
        yield
    finally:
        _REVERSE_ONLY.reset(token)


def _pairs(padding, spatial: Sequence[int], kernel: Sequence[int], strides: Sequence[int]):
    """Explicit ``((top, bottom), (left, right))`` of ``"SAME"`` / ``"VALID"`` (XLA's rules) or pairs."""
    if isinstance(padding, str):
        return tuple(tuple(int(v) for v in p) for p in lax.padtype_to_pads(spatial, kernel, strides, padding))
    return tuple((int(a), int(b)) for a, b in padding)


def _dilate(x: jax.Array, d: Sequence[int]) -> jax.Array:
    """Insert ``d - 1`` zeros between the pixels of ``x: [N, H, W, C]`` (lhs dilation)."""
    if tuple(d) == (1, 1):
        return x
    n, h, w, c = x.shape
    out = jnp.zeros((n, (h - 1) * d[0] + 1, (w - 1) * d[1] + 1, c), x.dtype)
    return out.at[:, ::d[0], ::d[1], :].set(x)


def _lax_conv(x, w, strides, padding, lhs_dilation):
    return lax.conv_general_dilated(x, w, tuple(strides), padding, lhs_dilation=tuple(lhs_dilation),
                                    dimension_numbers=_DN)


def _fast_conv(strides, padding, lhs_dilation):
    strides, lhs_dilation = tuple(strides), tuple(lhs_dilation)

    @jax.custom_vjp
    def conv(x, w):
        return _lax_conv(x, w, strides, padding, lhs_dilation)

    def fwd(x, w):
        return conv(x, w), (x, w)

    def bwd(res, g):
        x, w = res
        kh, kw = w.shape[:2]
        xd = _dilate(x, lhs_dilation)
        xp = jnp.pad(xd, ((0, 0), padding[0], padding[1], (0, 0)))
        # weight gradient: a forward conv with C_in as the batch and N as the contracted feature
        dw = lax.conv_general_dilated(xp.transpose(3, 1, 2, 0), g.astype(xp.dtype).transpose(1, 2, 0, 3), (1, 1),
                                      "VALID", rhs_dilation=strides, dimension_numbers=_DN)
        dw = dw[:, :kh, :kw, :].transpose(1, 2, 0, 3)
        # input gradient w.r.t. the padded input, then crop padding and dilation away
        gd = _dilate(g, strides)
        wt = jnp.flip(w, (0, 1)).transpose(0, 1, 3, 2).astype(g.dtype)
        dxp = lax.conv_general_dilated(gd, wt, (1, 1), ((kh - 1, kh - 1), (kw - 1, kw - 1)), dimension_numbers=_DN)
        hp, wp = xp.shape[1], xp.shape[2]
        dxp = jnp.pad(dxp, ((0, 0), (0, hp - dxp.shape[1]), (0, wp - dxp.shape[2]), (0, 0)))
        (t, _), (l, _) = padding
        dxd = lax.slice(dxp, (0, t, l, 0), (dxp.shape[0], t + xd.shape[1], l + xd.shape[2], dxp.shape[3]))
        dx = dxd[:, ::lhs_dilation[0], ::lhs_dilation[1], :]
        return dx.astype(x.dtype), dw.astype(w.dtype)

    conv.defvjp(fwd, bwd)
    return conv


def conv2d(x: jax.Array, w: jax.Array, strides: Sequence[int] = (1, 1), padding="SAME",
           lhs_dilation: Sequence[int] = (1, 1)) -> jax.Array:
    """``lax.conv_general_dilated(x, w, strides, padding, lhs_dilation)`` for ``x: [N, H, W, C_in]``
    and ``w: [kh, kw, C_in, C_out]``; inside :func:`reverse_mode_convs` with the loop-friendly
    VJP. Negative (cropping) padding is left to lax."""
    if isinstance(padding, str) and tuple(lhs_dilation) != (1, 1):
        return _lax_conv(x, w, strides, padding, lhs_dilation)   # lax's own error for this
    pads = _pairs(padding, x.shape[1:3], w.shape[:2], strides)
    if not _REVERSE_ONLY.get() or min(p for pair in pads for p in pair) < 0:
        return _lax_conv(x, w, strides, pads, lhs_dilation)
    return _fast_conv(strides, pads, lhs_dilation)(x, w)
