"""Orthonormal 2-D wavelet transforms in JAX: Haar and the Daubechies family (periodic boundary).

Both work on the last two axes of ``[..., H, W]`` (real or complex) and keep the shape. Layout
(the same for every wavelet, and ``pywt.coeffs_to_array`` of ``pywt.wavedec2``): after each level
the approximation fills the top-left quarter, which the next level transforms again; the other
three quarters hold the details (top-right: low along rows / high along columns, pywt's ``ad``
= cV; bottom-left: ``da`` = cH; bottom-right: ``dd`` = cD). ``H`` and ``W`` must be divisible by
``2**levels``.

The Daubechies transforms use periodic extension ("periodization" in PyWavelets): a signal of
even length n gives exactly n/2 + n/2 coefficients and the analysis matrix is orthogonal, so the
adjoint is the inverse and the energy is preserved, at every level and for any even length
(also below the filter length: the filter then wraps around). PyWavelets' other boundary modes
add coefficients and are not orthonormal.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

_SQRT2 = math.sqrt(2.0)


def haar_levels(shape: tuple[int, ...], max_levels: int = 4) -> int:
    """Number of levels (<= ``max_levels``) for which both of the last two sizes stay even (the
    rule of every transform here)."""
    h, w = shape[-2:]
    levels = 0
    while levels < max_levels and h % 2 == 0 and w % 2 == 0 and h >= 2 and w >= 2:
        h, w, levels = h // 2, w // 2, levels + 1
    return levels


def _check_divisible(x, levels: int) -> None:
    h, w = x.shape[-2:]
    if h % (2**levels) or w % (2**levels):
        raise ValueError(f"image {h}x{w} is not divisible by 2**levels = {2**levels}")


def _multilevel(step, x, levels: int) -> jax.Array:
    """Apply the one-level 2-D analysis ``step`` to the top-left approximation block ``levels`` times."""
    h, w = x.shape[-2:]
    for _ in range(levels):
        x = x.at[..., :h, :w].set(step(x[..., :h, :w]))
        h, w = h // 2, w // 2
    return x


def _multilevel_inverse(step, c, levels: int) -> jax.Array:
    """Undo :func:`_multilevel` with the one-level 2-D synthesis ``step``, coarsest level first."""
    H, W = c.shape[-2:]
    for level in reversed(range(levels)):
        h, w = H >> level, W >> level
        c = c.at[..., :h, :w].set(step(c[..., :h, :w]))
    return c


# --- Haar ---------------------------------------------------------------------------------------------

def _split(x: jax.Array, axis: int) -> jax.Array:
    """One Haar step along ``axis`` (negative): [.., n, ..] -> [.., averages n/2 | differences n/2, ..]."""
    axis = axis % x.ndim
    n = x.shape[axis]
    pairs = x.reshape(x.shape[:axis] + (n // 2, 2) + x.shape[axis + 1:])
    even = jax.lax.index_in_dim(pairs, 0, axis + 1, keepdims=False)
    odd = jax.lax.index_in_dim(pairs, 1, axis + 1, keepdims=False)
    return jnp.concatenate([(even + odd) / _SQRT2, (even - odd) / _SQRT2], axis=axis)


def _merge(c: jax.Array, axis: int) -> jax.Array:
    """Inverse of :func:`_split`: re-interleave averages and differences along ``axis``."""
    axis = axis % c.ndim
    n = c.shape[axis]
    avg = jax.lax.slice_in_dim(c, 0, n // 2, axis=axis)
    dif = jax.lax.slice_in_dim(c, n // 2, n, axis=axis)
    pair = jnp.stack([(avg + dif) / _SQRT2, (avg - dif) / _SQRT2], axis=axis + 1)
    return pair.reshape(c.shape)


@functools.partial(jax.jit, static_argnames=("levels",))
def haar2d(x, levels: int) -> jax.Array:
    """Orthonormal multi-level 2-D Haar transform of the last two axes, ``[..., H, W]`` -> same shape."""
    x = jnp.asarray(x)
    _check_divisible(x, levels)
    return _multilevel(lambda b: _split(_split(b, -2), -1), x, levels)


@functools.partial(jax.jit, static_argnames=("levels",))
def ihaar2d(c, levels: int) -> jax.Array:
    """Inverse (= adjoint) of :func:`haar2d`."""
    c = jnp.asarray(c)
    return _multilevel_inverse(lambda b: _merge(_merge(b, -1), -2), c, levels)


# --- Daubechies (periodized) ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def daubechies_filter(order: int) -> tuple[float, ...]:
    """PyWavelets' ``Wavelet(f"db{order}").dec_lo`` (2·order taps), computed here by spectral
    factorisation: ``|Q(e^{iω})|² = Σ_{k<N} C(N-1+k, k) sin^{2k}(ω/2)``, with the roots of Q taken
    inside the unit circle (Daubechies' extremal-phase choice), times ``((1 + z⁻¹)/2)^N``."""
    n = int(order)
    if not 1 <= n <= 20:
        raise ValueError(f"Daubechies order must be in 1..20; got {order}")
    # P(y) = Σ C(N-1+k, k) y^k; each root y_i gives z + 1/z = 2 - 4 y_i, a pair (z, 1/z).
    p = [math.comb(n - 1 + k, k) for k in range(n)]
    zeros = []
    for yr in np.roots(p[::-1]) if n > 1 else []:
        z = np.roots([1.0, -(2.0 - 4.0 * yr), 1.0])
        zeros.append(z[np.argmin(np.abs(z))])
    h = np.real(np.poly(zeros)) if zeros else np.ones(1)
    for _ in range(n):
        h = np.convolve(h, [1.0, 1.0])
    h = h * (_SQRT2 / h.sum())           # sum of the low-pass filter = √2 (orthonormal)
    # h is the synthesis filter rec_lo (minimum phase: energy at the front); dec_lo is it reversed
    return tuple(float(v) for v in h[::-1])


def _wavelet_order(wavelet: str) -> int:
    name = str(wavelet).lower()
    if name == "haar":
        return 1
    if name.startswith("db") and name[2:].isdigit():
        return int(name[2:])
    raise ValueError(f"unknown wavelet {wavelet!r}; valid: 'haar', 'db1' ... 'db20'")


def _filters(wavelet: str) -> tuple[np.ndarray, np.ndarray]:
    """(dec_lo, dec_hi) as PyWavelets defines them: dec_hi[j] = (-1)^(j+1) dec_lo[F-1-j]."""
    lo = np.asarray(daubechies_filter(_wavelet_order(wavelet)))
    hi = lo[::-1] * np.where(np.arange(len(lo)) % 2, 1.0, -1.0)
    return lo, hi


def _analysis(x: jax.Array, axis: int, lo: np.ndarray, hi: np.ndarray) -> jax.Array:
    """One periodized level along ``axis`` (negative): ``a[k] = Σ_j lo[j] x[(2k + F/2 - j) mod n]``
    (PyWavelets' alignment), details likewise with ``hi``; output ``[.., a (n/2) | d (n/2), ..]``."""
    half = len(lo) // 2
    a = d = 0.0
    for j in range(len(lo)):
        xs = jnp.roll(x, j - half, axis=axis)
        even = jax.lax.slice_in_dim(xs, 0, None, stride=2, axis=x.ndim + axis)
        a, d = a + lo[j] * even, d + hi[j] * even
    return jnp.concatenate([a, d], axis=axis)


def _synthesis(c: jax.Array, axis: int, lo: np.ndarray, hi: np.ndarray) -> jax.Array:
    """Adjoint (= inverse) of :func:`_analysis`: upsample by 2 and apply the transposed filters."""
    ax = c.ndim + axis
    n = c.shape[ax]
    a, d = jax.lax.slice_in_dim(c, 0, n // 2, axis=ax), jax.lax.slice_in_dim(c, n // 2, n, axis=ax)
    # u[2k] = coefficient k, u[2k + 1] = 0
    up = lambda v: jnp.stack([v, jnp.zeros_like(v)], axis=ax + 1).reshape(c.shape)  # noqa: E731
    ua, ud = up(a), up(d)
    half = len(lo) // 2
    x = 0.0
    for j in range(len(lo)):
        x = x + jnp.roll(lo[j] * ua + hi[j] * ud, half - j, axis=axis)
    return x


@functools.partial(jax.jit, static_argnames=("wavelet", "levels"))
def wavedec2(x, wavelet: str, levels: int) -> jax.Array:
    """Orthonormal multi-level 2-D wavelet transform (``"haar"`` or ``"db1"`` ... ``"db20"``,
    periodic boundary) of the last two axes, ``[..., H, W]`` -> same shape, in the layout of the
    module docstring. Equals ``pywt.coeffs_to_array(pywt.wavedec2(x, wavelet, "periodization",
    level=levels))[0]``. ``"haar"`` is :func:`haar2d` (its own sign convention for details)."""
    x = jnp.asarray(x)
    _check_divisible(x, levels)
    if wavelet == "haar":
        return haar2d(x, levels)
    lo, hi = _filters(wavelet)
    return _multilevel(lambda b: _analysis(_analysis(b, -2, lo, hi), -1, lo, hi), x, levels)


@functools.partial(jax.jit, static_argnames=("wavelet", "levels"))
def waverec2(c, wavelet: str, levels: int) -> jax.Array:
    """Inverse (= adjoint) of :func:`wavedec2`."""
    c = jnp.asarray(c)
    if wavelet == "haar":
        return ihaar2d(c, levels)
    lo, hi = _filters(wavelet)
    return _multilevel_inverse(lambda b: _synthesis(_synthesis(b, -1, lo, hi), -2, lo, hi), c, levels)


# --- the translation-invariant (undecimated) transform: cycle spinning made exact ------------------------

def _swt_responses(n: int, wavelet: str, levels: int) -> np.ndarray:
    """DFT responses ``[3 levels + 1 bands, 2 (first / second filter), n]`` of the undecimated bands
    along one axis: level l (1-based) applies ``H(2^m ω)`` for m < l - 1, then ``H`` or ``G`` at
    ``2^(l-1) ω`` (à trous: the filters dilated by 2^(l-1)); 1/√2 per level makes it Parseval."""
    lo, hi = _filters("db1" if wavelet == "haar" else wavelet)
    w = 2.0 * np.pi * np.fft.fftfreq(n)
    resp = lambda f, dil: np.exp(-1j * np.outer(dil * w, np.arange(len(f)))) @ f / _SQRT2  # noqa: E731
    low, out = np.ones(n, complex), []
    for lev in range(levels):
        dil = 2**lev
        l_lev, h_lev = low * resp(lo, dil), low * resp(hi, dil)
        out.append([(l_lev, h_lev), (h_lev, l_lev), (h_lev, h_lev)])   # (ad, da, dd): (rows, columns)
        low = l_lev
    bands = [(low, low)] + [b for level in reversed(out) for b in level]
    return np.asarray([[r, c] for r, c in bands])


def _swt_filters(shape: tuple[int, ...], wavelet: str, levels: int) -> jax.Array:
    """``[3 levels + 1, H, W]`` complex64 2-D responses (outer products of the per-axis ones)."""
    rows = _swt_responses(shape[-2], wavelet, levels)[:, 0]
    cols = _swt_responses(shape[-1], wavelet, levels)[:, 1]
    return jnp.asarray(rows[:, :, None] * cols[:, None, :], jnp.complex64)


def swt_weights(levels: int) -> np.ndarray:
    """Per-band weights ``[3 levels + 1]`` that make ``Σ_b w_b ||swt2(x)_b||_1`` the average over all
    ``4**levels`` cyclic shifts ``s`` of ``||detail bands of wavedec2(roll(x, s))||_1``: 0 on the
    approximation band (unpenalised), ``2**-l`` on the three bands of level l."""
    return np.concatenate([[0.0]] + [[2.0**-lev] * 3 for lev in range(levels, 0, -1)])


@functools.partial(jax.jit, static_argnames=("wavelet", "levels"))
def swt2(x, wavelet: str, levels: int) -> jax.Array:
    """Undecimated ("stationary", à trous) 2-D wavelet transform with periodic boundary,
    ``[..., H, W]`` -> ``[3 levels + 1, ..., H, W]``: bands (approximation at ``levels``, then
    (ad, da, dd) from the coarsest level to the finest).

    Scaled by 1/2 per level, it is a Parseval frame (``swt2_adjoint(swt2(x)) = x``, energy kept)
    for any H, W. Its level-l bands, times ``2**l``, hold every coefficient that the decimated
    :func:`wavedec2` of any cyclic shift of ``x`` has at level l (each shift gives a
    ``2**l``-strided subgrid, up to a circular shift of the band; same filters, ``"haar"`` as
    ``"db1"``), which is why :func:`swt_weights` turns its L1 norm into the exact cycle-spinning
    average. Each band is a circular convolution, applied in the Fourier domain: one FFT and one
    inverse FFT per band, whatever the filter length (a sum of shifted copies, as in
    :func:`wavedec2`, compiled ~100x slower here on XLA:CPU for db4).
    """
    x = jnp.asarray(x)
    c = jnp.fft.ifft2(_swt_filters(x.shape, wavelet, levels).reshape((-1,) + (1,) * (x.ndim - 2) + x.shape[-2:])
                      * jnp.fft.fft2(x)[None])
    return c if jnp.iscomplexobj(x) else jnp.real(c)


@functools.partial(jax.jit, static_argnames=("wavelet", "levels"))
def swt2_adjoint(c, wavelet: str, levels: int) -> jax.Array:
    """Adjoint of :func:`swt2` (``[3 levels + 1, ..., H, W]`` -> ``[..., H, W]``), which is also its
    left inverse (a Parseval frame)."""
    c = jnp.asarray(c)
    filt = jnp.conj(_swt_filters(c.shape, wavelet, levels)).reshape((-1,) + (1,) * (c.ndim - 3) + c.shape[-2:])
    x = jnp.fft.ifft2(jnp.sum(filt * jnp.fft.fft2(c), axis=0))
    return x if jnp.iscomplexobj(c) else jnp.real(x)
