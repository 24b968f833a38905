"""FIR up/down-sampling of NHWC images (the StyleGAN2 ``upfirdn2d`` family) in plain JAX.

Semantics follow score_sde's ``up_or_down_sampling`` (itself after StyleGAN2): ``upfirdn2d``
inserts ``up - 1`` zeros after every sample, pads (zeros outside the image; negative pads crop),
convolves with the FIR kernel and keeps every ``down``-th sample. Kernels are normalised to sum to
one (times ``up²`` when upsampling), so the interior of a constant image stays constant and the
sum of a compactly supported image is preserved up to the factor ``up²``/``down²``. Pixels near
the border see the zero padding, as in score_sde.

Separable kernels (the 1-D ``fir_kernel`` of every score_sde config, e.g. ``(1, 3, 3, 1)``) are
applied as a weighted sum of shifted slices along H then W: elementwise work that XLA fuses, far
cheaper on CPU than a depthwise convolution. A 2-D kernel falls back to a depthwise
``lax.conv_general_dilated``.

Shapes: images are ``[B, H, W, C]``; convolution weights are Flax's ``[kh, kw, C_in, C_out]``.
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from models.conv import conv2d

_DN = ("NHWC", "HWIO", "NHWC")


def setup_kernel(k) -> np.ndarray:
    """A 1-D kernel normalised to sum 1, or a square 2-D kernel normalised to sum 1."""
    k = np.asarray(k, dtype=np.float64)
    if k.ndim not in (1, 2) or (k.ndim == 2 and k.shape[0] != k.shape[1]) or k.size == 0:
        raise ValueError(f"FIR kernel must be 1-D or square 2-D; got shape {k.shape}")
    s = k.sum()
    if s == 0:
        raise ValueError("FIR kernel must not sum to zero")
    return k / s


def _upfirdn_axis(x: jax.Array, k: np.ndarray, axis: int, up: int, down: int,
                  pad0: int, pad1: int) -> jax.Array:
    """1-D upfirdn of ``x`` along ``axis`` with taps ``k`` (true convolution: taps are flipped)."""
    if up > 1:
        # Zero insertion: each sample is followed by up - 1 zeros (length n·up, as in upfirdn2d).
        zeros = jnp.zeros_like(x)
        x = jnp.stack([x] + [zeros] * (up - 1), axis=axis + 1)
        shape = list(x.shape)
        shape[axis: axis + 2] = [shape[axis] * up]
        x = x.reshape(shape)
    # Pad (positive) or crop (negative) each end.
    n = x.shape[axis]
    lo, hi = max(-pad0, 0), n - max(-pad1, 0)
    x = lax.slice_in_dim(x, lo, hi, axis=axis)
    widths = [(0, 0)] * x.ndim
    widths[axis] = (max(pad0, 0), max(pad1, 0))
    x = jnp.pad(x, widths)
    taps = k[::-1]
    n_out = (x.shape[axis] - len(taps)) // down + 1
    if n_out < 1:
        raise ValueError("image too small for this FIR kernel")
    out = None
    for j, c in enumerate(taps):
        if c == 0:
            continue
        sl = lax.slice_in_dim(x, j, j + (n_out - 1) * down + 1, stride=down, axis=axis)
        term = sl * jnp.asarray(c, x.dtype)
        out = term if out is None else out + term
    if out is None:
        out = jnp.zeros_like(lax.slice_in_dim(x, 0, (n_out - 1) * down + 1, stride=down, axis=axis))
    return out


def upfirdn2d(x: jax.Array, k, up: int = 1, down: int = 1,
              pad: tuple[int, int] = (0, 0)) -> jax.Array:
    """Upsample (zero insertion), pad, FIR-filter and downsample ``x: [B, H, W, C]``.

    ``k`` is used as given (no normalisation): a 1-D kernel means the separable kernel
    ``outer(k, k)``; a 2-D kernel ``[kh, kw]`` is applied depthwise. ``pad`` applies to both
    spatial axes: ``(before, after)``.
    """
    k = np.asarray(k, dtype=np.float64)
    pad0, pad1 = pad
    if k.ndim == 1:
        x = _upfirdn_axis(x, k, 1, up, down, pad0, pad1)
        return _upfirdn_axis(x, k, 2, up, down, pad0, pad1)
    if k.ndim != 2:
        raise ValueError(f"FIR kernel must be 1-D or 2-D; got shape {k.shape}")
    B, H, W, C = x.shape
    # Depthwise path: lhs_dilation is the zero insertion, but it does not add the trailing
    # up - 1 zeros of upfirdn2d, so they are added to the after-padding.
    kf = jnp.asarray(k[::-1, ::-1], x.dtype)  # flipped: upfirdn2d is a true convolution
    w = jnp.tile(kf[:, :, None, None], (1, 1, 1, C))
    extra = up - 1
    if min(pad0, pad1 + extra) < 0:
        raise ValueError("negative padding (cropping) is only supported for 1-D kernels")
    return lax.conv_general_dilated(
        x, w, window_strides=(down, down), padding=[(pad0, pad1 + extra)] * 2,
        lhs_dilation=(up, up), dimension_numbers=_DN, feature_group_count=C)


def _as_1d_or_2d(k, gain: float, factor: int, upsample: bool):
    k = setup_kernel(k)
    scale = gain * (factor ** 2 if upsample else 1)
    if k.ndim == 1:
        # outer(k, k) · scale == outer(k · √scale, k · √scale)
        return k * np.sqrt(scale)
    return k * scale


def upsample_2d(x: jax.Array, k: Sequence[float] | None = None, factor: int = 2,
                gain: float = 1.0) -> jax.Array:
    """FIR upsampling ``[B, H, W, C] -> [B, H·factor, W·factor, C]``."""
    k = [1] * factor if k is None else k
    kk = _as_1d_or_2d(k, gain, factor, upsample=True)
    p = kk.shape[0] - factor
    return upfirdn2d(x, kk, up=factor, pad=((p + 1) // 2 + factor - 1, p // 2))


def downsample_2d(x: jax.Array, k: Sequence[float] | None = None, factor: int = 2,
                  gain: float = 1.0) -> jax.Array:
    """FIR downsampling ``[B, H, W, C] -> [B, H/factor, W/factor, C]``."""
    k = [1] * factor if k is None else k
    kk = _as_1d_or_2d(k, gain, factor, upsample=False)
    p = kk.shape[0] - factor
    return upfirdn2d(x, kk, down=factor, pad=((p + 1) // 2, p // 2))


def naive_upsample_2d(x: jax.Array, factor: int = 2) -> jax.Array:
    """Nearest-neighbour upsampling."""
    x = jnp.repeat(x, factor, axis=1)
    return jnp.repeat(x, factor, axis=2)


def naive_downsample_2d(x: jax.Array, factor: int = 2) -> jax.Array:
    """Average pooling over ``factor × factor`` blocks."""
    B, H, W, C = x.shape
    x = x.reshape(B, H // factor, factor, W // factor, factor, C)
    return x.mean(axis=(2, 4))


def upsample_conv_2d(x: jax.Array, w: jax.Array, k: Sequence[float] | None = None,
                     factor: int = 2, gain: float = 1.0) -> jax.Array:
    """Fused FIR upsampling followed by a ``kh × kw`` convolution with ``w: [kh, kw, Ci, Co]``.

    A stride-``factor`` transposed convolution (zero insertion, full correlation with ``w``) then
    one FIR pass, so padding happens once, as in StyleGAN2 / score_sde.
    """
    kh, kw = w.shape[0], w.shape[1]
    if kh != kw or kh % 2 != 1:
        raise ValueError(f"conv kernel must be square and odd; got {kh}x{kw}")
    k = [1] * factor if k is None else k
    kk = _as_1d_or_2d(k, gain, factor, upsample=True)
    p = (kk.shape[0] - factor) - (kw - 1)
    y = conv2d(x, w.astype(x.dtype), (1, 1), [(kh - 1, kh - 1)] * 2, lhs_dilation=(factor, factor))
    return upfirdn2d(y, kk, pad=((p + 1) // 2 + factor - 1, p // 2 + 1))


def conv_downsample_2d(x: jax.Array, w: jax.Array, k: Sequence[float] | None = None,
                       factor: int = 2, gain: float = 1.0) -> jax.Array:
    """Fused ``kh × kw`` convolution with ``w: [kh, kw, Ci, Co]`` followed by FIR downsampling.

    The FIR pass runs first on the input (one padding), then a strided valid convolution.
    """
    kh, kw = w.shape[0], w.shape[1]
    if kh != kw or kh % 2 != 1:
        raise ValueError(f"conv kernel must be square and odd; got {kh}x{kw}")
    k = [1] * factor if k is None else k
    kk = _as_1d_or_2d(k, gain, factor, upsample=False)
    p = (kk.shape[0] - factor) + (kw - 1)
    x = upfirdn2d(x, kk, pad=((p + 1) // 2, p // 2))
    return conv2d(x, w.astype(x.dtype), (factor, factor), "VALID")


class Conv2d(nn.Module):
    """A ``kernel × kernel`` convolution with optional fused FIR up- or down-sampling by 2.

    score_sde's ``up_or_down_sampling.Conv2d``: parameters ``weight [k, k, C_in, C_out]`` (HWIO)
    and ``bias``.
    """

    features: int
    kernel: int = 3
    up: bool = False
    down: bool = False
    resample_kernel: tuple = (1, 3, 3, 1)
    use_bias: bool = True
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.up and self.down:
            raise ValueError("Conv2d: up and down are exclusive")
        w = self.param("weight", self.kernel_init, (self.kernel, self.kernel, x.shape[-1], self.features))
        x = x.astype(self.dtype)
        if self.up:
            y = upsample_conv_2d(x, w, k=self.resample_kernel)
        elif self.down:
            y = conv_downsample_2d(x, w, k=self.resample_kernel)
        else:
            y = conv2d(x, w.astype(self.dtype), (1, 1), "SAME")
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,)).astype(self.dtype)
        return y
