"""Blocks of the DDPM and NCSN++ / DDPM++ U-Nets (NHWC, Flax Linen), as score_sde builds them.

Class, module and parameter names are score_sde's Linen ones (``ResnetBlockBigGANpp_3/Conv_0/
kernel``, ``AttnBlockpp_0/NIN_2/W``, ...): a score_sde Flax checkpoint's parameter tree is ours
as it is, and score_sde_pytorch's state-dict keys map onto it by name inside each block (see
models/convert_score_sde.py). Layers that close a residual branch or the network use
``init_scale`` (0 in every score_sde config; see models/ops.py for the initialisers).

Every block computes in ``dtype`` (e.g. bfloat16) with float32 parameters; group-norm statistics
and the attention softmax run in float32.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from models import resample
from models.ops import (ACTIVATIONS, NIN, Conv1x1, GroupNorm, conv3x3, default_init,  # noqa: F401
                        get_act, group_norm)

def _temb_bias(temb: jax.Array, features: int, act, dtype) -> jax.Array:
    """Per-channel bias from the noise embedding: ``[B, 1, 1, features]`` (score_sde's ``Dense_0``)."""
    b = nn.Dense(features, kernel_init=default_init(), bias_init=nn.initializers.zeros,
                 dtype=dtype)(act(temb))
    return b[:, None, None, :]


def _residual(x: jax.Array, h: jax.Array, skip_rescale: bool) -> jax.Array:
    out = x.astype(h.dtype) + h
    return out / math.sqrt(2.0) if skip_rescale else out


class AttnBlockpp(nn.Module):
    """Self-attention over all pixels (DDPM's, with NCSN++'s ``skip_rescale`` and ``init_scale``).

    Parameters as score_sde: ``GroupNorm_0``, ``NIN_0`` (q), ``NIN_1`` (k), ``NIN_2`` (v),
    ``NIN_3`` (output, initialised with ``init_scale``).
    """

    skip_rescale: bool = False
    init_scale: float = 0.0
    num_groups: Optional[int] = None
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        B, H, W, C = x.shape
        h = group_norm(C, self.dtype, self.num_groups)(x)
        q = NIN(C, dtype=self.dtype)(h).reshape(B, H * W, C)
        k = NIN(C, dtype=self.dtype)(h).reshape(B, H * W, C)
        v = NIN(C, dtype=self.dtype)(h).reshape(B, H * W, C)
        logits = jnp.einsum("bic,bjc->bij", q, k, preferred_element_type=jnp.float32) * (C ** -0.5)
        w = jax.nn.softmax(logits, axis=-1).astype(self.dtype)
        h = jnp.einsum("bij,bjc->bic", w, v).reshape(B, H, W, C)
        h = NIN(C, init_scale=self.init_scale, dtype=self.dtype)(h)
        return _residual(x, h, self.skip_rescale)


class AttnBlock(AttnBlockpp):
    """DDPM's attention block (score_sde's ``ddpm`` model): 32 groups, no rescale, zero output init."""

    skip_rescale: bool = False
    init_scale: float = 0.0
    num_groups: Optional[int] = 32


class Upsample(nn.Module):
    """×2 upsampling: nearest (+ 3×3 ``Conv_0``) or, with ``fir``, FIR (+ fused 3×3 ``Conv2d_0``)."""

    out_ch: Optional[int] = None
    with_conv: bool = False
    fir: bool = False
    fir_kernel: tuple = (1, 3, 3, 1)
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        out_ch = self.out_ch or x.shape[-1]
        x = x.astype(self.dtype)
        if not self.fir:
            h = resample.naive_upsample_2d(x, 2)
            if self.with_conv:
                h = conv3x3(out_ch, dtype=self.dtype)(h)
        elif not self.with_conv:
            h = resample.upsample_2d(x, self.fir_kernel, factor=2)
        else:
            h = resample.Conv2d(out_ch, 3, up=True, resample_kernel=self.fir_kernel,
                                kernel_init=default_init(), dtype=self.dtype)(x)
        return h


class Downsample(nn.Module):
    """×2 downsampling: avg-pool / strided 3×3 ``Conv_0`` or, with ``fir``, FIR (+ fused ``Conv2d_0``)."""

    out_ch: Optional[int] = None
    with_conv: bool = False
    fir: bool = False
    fir_kernel: tuple = (1, 3, 3, 1)
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        out_ch = self.out_ch or x.shape[-1]
        x = x.astype(self.dtype)
        if not self.fir:
            if self.with_conv:
                # SAME padding at stride 2 pads (0, 1), as score_sde's explicit pad.
                return conv3x3(out_ch, stride=2, dtype=self.dtype)(x)
            return resample.naive_downsample_2d(x, 2)
        if not self.with_conv:
            return resample.downsample_2d(x, self.fir_kernel, factor=2)
        return resample.Conv2d(out_ch, 3, down=True, resample_kernel=self.fir_kernel,
                               kernel_init=default_init(), dtype=self.dtype)(x)


class ResnetBlockDDPMpp(nn.Module):
    """DDPM residual block with NCSN++'s ``skip_rescale`` / ``init_scale`` (score_sde's names).

    Parameters: ``GroupNorm_0``, ``Conv_0``, ``Dense_0`` (noise embedding), ``GroupNorm_1``,
    ``Conv_1``, and when channels change ``NIN_0`` (or ``Conv_2`` with ``conv_shortcut``).
    """

    out_ch: Optional[int] = None
    act: Callable = nn.swish
    dropout: float = 0.1
    skip_rescale: bool = False
    init_scale: float = 0.0
    conv_shortcut: bool = False
    num_groups: Optional[int] = None
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, temb: Optional[jax.Array] = None, train: bool = False) -> jax.Array:
        C = x.shape[-1]
        out_ch = self.out_ch or C
        x = x.astype(self.dtype)
        h = self.act(group_norm(C, self.dtype, self.num_groups)(x))
        h = conv3x3(out_ch, dtype=self.dtype)(h)
        if temb is not None:
            h = h + _temb_bias(temb, out_ch, self.act, self.dtype)
        h = self.act(group_norm(out_ch, self.dtype, self.num_groups)(h))
        h = nn.Dropout(self.dropout)(h, deterministic=not train)
        h = conv3x3(out_ch, init_scale=self.init_scale, dtype=self.dtype)(h)
        if C != out_ch:
            x = (conv3x3(out_ch, dtype=self.dtype) if self.conv_shortcut
                 else NIN(out_ch, dtype=self.dtype))(x)
        return _residual(x, h, self.skip_rescale)


class ResnetBlockDDPM(ResnetBlockDDPMpp):
    """Ho et al.'s block as score_sde's ``ddpm`` model builds it: 32 groups, no rescale."""

    skip_rescale: bool = False
    init_scale: float = 0.0
    num_groups: Optional[int] = 32


class ResnetBlockBigGANpp(nn.Module):
    """BigGAN-style residual block with optional ×2 up/down-sampling inside (NCSN++).

    Parameters: ``GroupNorm_0``, ``Conv_0``, ``Dense_0``, ``GroupNorm_1``, ``Conv_1``, and a
    1×1 ``Conv_2`` shortcut when channels change or the block resamples.
    """

    out_ch: Optional[int] = None
    act: Callable = nn.swish
    up: bool = False
    down: bool = False
    dropout: float = 0.1
    fir: bool = False
    fir_kernel: tuple = (1, 3, 3, 1)
    skip_rescale: bool = True
    init_scale: float = 0.0
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, temb: Optional[jax.Array] = None, train: bool = False) -> jax.Array:
        C = x.shape[-1]
        out_ch = self.out_ch or C
        x = x.astype(self.dtype)
        h = self.act(group_norm(C, self.dtype)(x))
        if self.up or self.down:
            if self.fir:
                fn = resample.upsample_2d if self.up else resample.downsample_2d
                h, x = fn(h, self.fir_kernel, factor=2), fn(x, self.fir_kernel, factor=2)
            else:
                fn = resample.naive_upsample_2d if self.up else resample.naive_downsample_2d
                h, x = fn(h, 2), fn(x, 2)
        h = conv3x3(out_ch, dtype=self.dtype)(h)
        if temb is not None:
            h = h + _temb_bias(temb, out_ch, self.act, self.dtype)
        h = self.act(group_norm(out_ch, self.dtype)(h))
        h = nn.Dropout(self.dropout)(h, deterministic=not train)
        h = conv3x3(out_ch, init_scale=self.init_scale, dtype=self.dtype)(h)
        if C != out_ch or self.up or self.down:
            x = Conv1x1(out_ch, dtype=self.dtype, name="Conv_2")(x)
        return _residual(x, h, self.skip_rescale)


class Combine(nn.Module):
    """Merge an image-pyramid tensor ``x`` into features ``y``: 1×1 ``Conv_0``, then sum or concat."""

    method: str = "cat"
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array) -> jax.Array:
        h = Conv1x1(y.shape[-1], dtype=self.dtype, name="Conv_0")(x)
        y = y.astype(h.dtype)
        if self.method == "cat":
            return jnp.concatenate([h, y], axis=-1)
        if self.method == "sum":
            return h + y
        raise ValueError(f"unknown progressive_combine {self.method!r}; valid: ['cat', 'sum']")
