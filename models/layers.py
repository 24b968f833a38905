"""Building blocks of the DDPM and NCSN++ / DDPM++ U-Nets (NHWC, Flax Linen).

Initialisation follows score_sde: ``default_init(scale)`` is fan-average uniform variance scaling,
and layers that close a residual branch or the network use ``init_scale`` (0 in every score_sde
config). score_sde replaces a scale of 0 by 1e-10; here 0 means exactly zero weights, so a
network built with ``init_scale=0`` outputs exactly zero at initialisation.

Every block computes in ``dtype`` (e.g. bfloat16) with float32 parameters; group-norm statistics
and the attention softmax run in float32.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from models import resample

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "swish": nn.swish,
    "silu": nn.silu,
    "relu": nn.relu,
    "elu": nn.elu,
    "lrelu": lambda x: nn.leaky_relu(x, negative_slope=0.2),
}


def get_act(name: str) -> Callable[[jax.Array], jax.Array]:
    key = name.lower()
    if key not in ACTIVATIONS:
        raise ValueError(f"unknown nonlinearity {name!r}; valid: {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[key]


def default_init(scale: float = 1.0) -> nn.initializers.Initializer:
    """score_sde's initialiser: variance scaling (fan_avg, uniform); exactly zero for scale 0."""
    if scale == 0:
        return nn.initializers.zeros
    return nn.initializers.variance_scaling(scale, "fan_avg", "uniform")


def conv3x3(features: int, *, stride: int = 1, init_scale: float = 1.0, use_bias: bool = True,
            dtype=jnp.float32, name: Optional[str] = None) -> nn.Conv:
    return nn.Conv(features, (3, 3), strides=(stride, stride), padding="SAME", use_bias=use_bias,
                   kernel_init=default_init(init_scale), bias_init=nn.initializers.zeros,
                   dtype=dtype, name=name)


def conv1x1(features: int, *, init_scale: float = 1.0, use_bias: bool = True,
            dtype=jnp.float32, name: Optional[str] = None) -> nn.Dense:
    """A 1×1 convolution, written as a Dense over the channel axis.

    Same maths and initialisation (fan_in = C_in for a 1×1 kernel); XLA on CPU computes the
    weight gradient of a matmul several times faster than that of a 1×1 convolution.
    """
    return nn.Dense(features, use_bias=use_bias, kernel_init=default_init(init_scale),
                    bias_init=nn.initializers.zeros, dtype=dtype, name=name)


def nin(features: int, *, init_scale: float = 1.0, dtype=jnp.float32,
        name: Optional[str] = None) -> nn.Dense:
    """Network-in-network: a per-pixel linear map over channels (score_sde's ``NIN``)."""
    return nn.Dense(features, kernel_init=default_init(init_scale), bias_init=nn.initializers.zeros,
                    dtype=dtype, name=name)


class GroupNorm(nn.Module):
    """Group normalisation over ``[B, H, W, C]`` with per-channel scale and bias.

    Same maths as ``flax.linen.GroupNorm`` (biased variance E[x²] - E[x]², eps inside the rsqrt),
    written as per-channel spatial means followed by a tiny group reduction and one fused
    multiply-add: on CPU this runs several times faster than the generic reduction over
    (H, W, C/G). Statistics are computed in float32 whatever ``dtype`` is.
    """

    num_groups: int
    epsilon: float = 1e-6
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        B, H, W, C = x.shape
        G = self.num_groups
        scale = self.param("scale", nn.initializers.ones, (C,))
        bias = self.param("bias", nn.initializers.zeros, (C,))
        xf = x.astype(jnp.float32).reshape(B, H * W, C)
        mean_c = jnp.mean(xf, axis=1)
        sq_c = jnp.mean(jnp.square(xf), axis=1)
        mean = mean_c.reshape(B, G, C // G).mean(-1)
        var = jnp.maximum(sq_c.reshape(B, G, C // G).mean(-1) - jnp.square(mean), 0.0)
        inv = lax.rsqrt(var + self.epsilon)
        inv_c = jnp.repeat(inv, C // G, axis=1) * scale           # [B, C]
        shift_c = bias - jnp.repeat(mean, C // G, axis=1) * inv_c
        y = x.astype(jnp.float32) * inv_c[:, None, None, :] + shift_c[:, None, None, :]
        return y.astype(self.dtype)


def group_norm(channels: int, dtype=jnp.float32, name: Optional[str] = None) -> GroupNorm:
    """score_sde's normalisation: ``min(C // 4, 32)`` groups, eps 1e-6."""
    groups = min(channels // 4, 32)
    if groups < 1 or channels % groups:
        raise ValueError(f"group norm needs channels >= 4 divisible by min(C // 4, 32); got C={channels}")
    return GroupNorm(num_groups=groups, epsilon=1e-6, dtype=dtype, name=name)


def _temb_bias(temb: jax.Array, features: int, act, dtype) -> jax.Array:
    """Per-channel bias from the noise embedding: ``[B, 1, 1, features]``."""
    b = nn.Dense(features, kernel_init=default_init(), bias_init=nn.initializers.zeros,
                 dtype=dtype, name="Dense_temb")(act(temb))
    return b[:, None, None, :]


class AttnBlock(nn.Module):
    """Self-attention over all pixels (DDPM); ``skip_rescale`` divides the residual sum by √2."""

    skip_rescale: bool = False
    init_scale: float = 0.0
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        B, H, W, C = x.shape
        h = group_norm(C, self.dtype)(x)
        q = nin(C, dtype=self.dtype, name="NIN_q")(h).reshape(B, H * W, C)
        k = nin(C, dtype=self.dtype, name="NIN_k")(h).reshape(B, H * W, C)
        v = nin(C, dtype=self.dtype, name="NIN_v")(h).reshape(B, H * W, C)
        logits = jnp.einsum("bic,bjc->bij", q, k, preferred_element_type=jnp.float32) * (C ** -0.5)
        w = jax.nn.softmax(logits, axis=-1).astype(self.dtype)
        h = jnp.einsum("bij,bjc->bic", w, v).reshape(B, H, W, C)
        h = nin(C, init_scale=self.init_scale, dtype=self.dtype, name="NIN_out")(h)
        out = x.astype(h.dtype) + h
        return out / math.sqrt(2.0) if self.skip_rescale else out


class Upsample(nn.Module):
    """×2 upsampling: nearest (+ 3×3 conv) or, with ``fir``, FIR (+ fused 3×3 conv)."""

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
            h = resample.FIRConv2d(out_ch, 3, up=True, resample_kernel=self.fir_kernel,
                                   kernel_init=default_init(), dtype=self.dtype)(x)
        return h


class Downsample(nn.Module):
    """×2 downsampling: avg-pool / strided 3×3 conv or, with ``fir``, FIR (+ fused 3×3 conv)."""

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
        return resample.FIRConv2d(out_ch, 3, down=True, resample_kernel=self.fir_kernel,
                                  kernel_init=default_init(), dtype=self.dtype)(x)


class ResnetBlockDDPM(nn.Module):
    """DDPM residual block; with ``skip_rescale`` it is score_sde's ``ResnetBlockDDPMpp``."""

    out_ch: Optional[int] = None
    act: Callable = nn.swish
    dropout: float = 0.1
    skip_rescale: bool = False
    init_scale: float = 0.0
    conv_shortcut: bool = False
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, temb: Optional[jax.Array] = None, train: bool = False) -> jax.Array:
        C = x.shape[-1]
        out_ch = self.out_ch or C
        x = x.astype(self.dtype)
        h = self.act(group_norm(C, self.dtype)(x))
        h = conv3x3(out_ch, dtype=self.dtype)(h)
        if temb is not None:
            h = h + _temb_bias(temb, out_ch, self.act, self.dtype)
        h = self.act(group_norm(out_ch, self.dtype)(h))
        h = nn.Dropout(self.dropout)(h, deterministic=not train)
        h = conv3x3(out_ch, init_scale=self.init_scale, dtype=self.dtype)(h)
        if C != out_ch:
            x = (conv3x3(out_ch, dtype=self.dtype, name="Conv_shortcut") if self.conv_shortcut
                 else nin(out_ch, dtype=self.dtype, name="NIN_shortcut"))(x)
        out = x + h
        return out / math.sqrt(2.0) if self.skip_rescale else out


class ResnetBlockBigGAN(nn.Module):
    """BigGAN-style residual block with optional ×2 up/down-sampling inside (NCSN++)."""

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
        if self.up:
            if self.fir:
                h = resample.upsample_2d(h, self.fir_kernel, factor=2)
                x = resample.upsample_2d(x, self.fir_kernel, factor=2)
            else:
                h = resample.naive_upsample_2d(h, 2)
                x = resample.naive_upsample_2d(x, 2)
        elif self.down:
            if self.fir:
                h = resample.downsample_2d(h, self.fir_kernel, factor=2)
                x = resample.downsample_2d(x, self.fir_kernel, factor=2)
            else:
                h = resample.naive_downsample_2d(h, 2)
                x = resample.naive_downsample_2d(x, 2)
        h = conv3x3(out_ch, dtype=self.dtype)(h)
        if temb is not None:
            h = h + _temb_bias(temb, out_ch, self.act, self.dtype)
        h = self.act(group_norm(out_ch, self.dtype)(h))
        h = nn.Dropout(self.dropout)(h, deterministic=not train)
        h = conv3x3(out_ch, init_scale=self.init_scale, dtype=self.dtype)(h)
        if C != out_ch or self.up or self.down:
            x = conv1x1(out_ch, dtype=self.dtype, name="Conv_shortcut")(x)
        out = x + h
        return out / math.sqrt(2.0) if self.skip_rescale else out


class Combine(nn.Module):
    """Merge an image-pyramid tensor ``x`` into features ``y``: 1×1 conv, then sum or concat."""

    method: str = "cat"
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array) -> jax.Array:
        h = conv1x1(y.shape[-1], dtype=self.dtype)(x)
        y = y.astype(h.dtype)
        if self.method == "cat":
            return jnp.concatenate([h, y], axis=-1)
        if self.method == "sum":
            return h + y
        raise ValueError(f"unknown progressive_combine {self.method!r}; valid: ['cat', 'sum']")
