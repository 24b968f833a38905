"""Blocks of guided-diffusion's ``UNetModel`` (ADM) in Flax Linen, NHWC.

Submodule names are the PyTorch module paths with each numeric index joined to the name before
it (``in_layers.2`` -> ``in_layers_2``), so a guided-diffusion state-dict key maps to our tree by
that one rule (models/convert_adm.py). Group norm is guided-diffusion's ``GroupNorm32``: 32
groups, eps 1e-5, statistics in float32. Layers that guided-diffusion zero-initialises
(``zero_module``) are zero-initialised here; the others use Flax's default initialisers (not
PyTorch's), which matters only when training from scratch.
"""
from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.ops import Conv, Conv1x1, group_norm
from models.resample import naive_downsample_2d, naive_upsample_2d

_ZERO = nn.initializers.zeros


def norm32(channels: int, dtype, name: str):
    return group_norm(channels, dtype, num_groups=32, epsilon=1e-5, name=name)


def conv3(features: int, dtype, name: str, stride: int = 1, zero: bool = False) -> nn.Conv:
    """guided-diffusion's ``conv_nd(2, ·, ·, 3, padding=1)``: symmetric padding 1 at any stride."""
    kw = dict(kernel_init=_ZERO) if zero else {}
    return Conv(features, (3, 3), strides=(stride, stride), padding=((1, 1), (1, 1)),
                dtype=dtype, name=name, **kw)


class ADMResample(nn.Module):
    """guided-diffusion's ``Upsample`` (nearest ×2, then a 3×3 ``conv``) or ``Downsample`` (a
    stride-2 3×3 ``op``, padding 1), each without its convolution when ``use_conv`` is False
    (then average pooling for ``Downsample``)."""

    out_channels: int
    up: bool
    use_conv: bool = True
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.astype(self.dtype)
        if self.up:
            x = naive_upsample_2d(x, 2)
            return conv3(self.out_channels, self.dtype, "conv")(x) if self.use_conv else x
        if self.use_conv:
            return conv3(self.out_channels, self.dtype, "op", stride=2)(x)
        return naive_downsample_2d(x, 2)


class ADMResBlock(nn.Module):
    """guided-diffusion's ``ResBlock``: GroupNorm-SiLU-conv, a noise-embedding bias (or FiLM
    scale and shift with ``use_scale_shift_norm``), GroupNorm-SiLU-dropout-zero conv, a skip
    (identity, 1×1, or 3×3 with ``use_conv``); ``up`` / ``down`` resample inside (nearest /
    average pool) between the first norm and conv, and on the skip path.
    """

    out_channels: int
    dropout: float = 0.0
    use_scale_shift_norm: bool = False
    use_conv: bool = False
    up: bool = False
    down: bool = False
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, emb: jax.Array, train: bool = False) -> jax.Array:
        C, out, dt = x.shape[-1], self.out_channels, self.dtype
        x = x.astype(dt)
        h = nn.silu(norm32(C, dt, "in_layers_0")(x))
        if self.up or self.down:
            fn = naive_upsample_2d if self.up else naive_downsample_2d
            h, x = fn(h, 2), fn(x, 2)
        h = conv3(out, dt, "in_layers_2")(h)
        e = nn.Dense(2 * out if self.use_scale_shift_norm else out, dtype=dt,
                     name="emb_layers_1")(nn.silu(emb))[:, None, None, :]
        if self.use_scale_shift_norm:
            scale, shift = jnp.split(e, 2, axis=-1)
            h = norm32(out, dt, "out_layers_0")(h) * (1 + scale) + shift
        else:
            h = norm32(out, dt, "out_layers_0")(h + e)
        h = nn.Dropout(self.dropout)(nn.silu(h), deterministic=not train)
        h = conv3(out, dt, "out_layers_3", zero=True)(h)
        if out != C:
            skip = conv3(out, dt, "skip_connection") if self.use_conv else \
                Conv1x1(out, dtype=dt, name="skip_connection")
            x = skip(x)
        return x + h


class ADMAttention(nn.Module):
    """guided-diffusion's ``AttentionBlock``: GroupNorm, a 1×1 ``qkv`` (here a matmul with kernel
    ``[C, 3C]``), multi-head attention over all pixels, a zero-initialised ``proj_out``.

    ``num_head_channels > 0`` sets the heads to C // num_head_channels, else ``num_heads``.
    The channel order of ``qkv`` is guided-diffusion's: per head [q, k, v] (legacy), or with
    ``use_new_attention_order`` [q of all heads, k …, v …].
    """

    num_heads: int = 1
    num_head_channels: int = -1
    use_new_attention_order: bool = False
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        B, H, W, C = x.shape
        if self.num_head_channels > 0:
            if C % self.num_head_channels:
                raise ValueError(f"attention channels {C} not divisible by num_head_channels "
                                 f"{self.num_head_channels}")
            heads = C // self.num_head_channels
        else:
            heads = self.num_heads
        if C % heads:
            raise ValueError(f"attention channels {C} not divisible by num_heads {heads}")
        ch, dt = C // heads, self.dtype
        h = norm32(C, dt, "norm")(x.astype(dt)).reshape(B, H * W, C)
        qkv = nn.Dense(3 * C, dtype=dt, name="qkv")(h)
        if self.use_new_attention_order:
            q, k, v = (t[..., 0, :, :] for t in jnp.split(qkv.reshape(B, H * W, 3, heads, ch), 3, axis=2))
        else:
            q, k, v = (t[..., 0, :] for t in jnp.split(qkv.reshape(B, H * W, heads, 3, ch), 3, axis=3))
        scale = 1.0 / math.sqrt(math.sqrt(ch))    # on q and k both, as guided-diffusion (fp16 range)
        logits = jnp.einsum("bthc,bshc->bhts", q * scale, k * scale,
                            preferred_element_type=jnp.float32)
        w = jax.nn.softmax(logits, axis=-1).astype(dt)
        a = jnp.einsum("bhts,bshc->bthc", w, v).reshape(B, H * W, C)
        a = nn.Dense(C, dtype=dt, kernel_init=_ZERO, name="proj_out")(a)
        return x.astype(dt) + a.reshape(B, H, W, C)
