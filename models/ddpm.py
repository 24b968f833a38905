"""The DDPM U-Net of Ho et al. (2020) (score_sde's ``ddpm`` model name and config keys).

On the way up, attention follows every residual block at an attention resolution, as in Ho et
al.'s code; score_sde's port applies it once per level, after the blocks. Group norm uses
min(C // 4, 32) groups, which is Ho's 32 for every C >= 128.

Call: ``model.apply(params, x, labels, train=False, rngs={'dropout': key})`` with
``x: [B, H, W, C]`` and ``labels: [B]`` = t·(N-1) (sinusoidal embedding); returns
``[B, H, W, C]`` float32, the predicted noise ε (use ``make_score_fn(..., output="eps")``).
The final convolution is zero-initialised, so a fresh network outputs exactly zero.
"""
from __future__ import annotations

from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from models import layers
from models.embeddings import timestep_embedding
from models.ncsnpp import _dtype, check_input, check_unet_sizes


class DDPM(nn.Module):
    """DDPM score / noise-prediction network (fields keep score_sde's config names)."""

    nf: int = 128
    ch_mult: tuple = (1, 2, 2, 2)
    num_res_blocks: int = 2
    attn_resolutions: tuple = (16,)
    dropout: float = 0.1
    resamp_with_conv: bool = True
    conditional: bool = True
    nonlinearity: str = "swish"
    image_size: Optional[int] = None
    num_channels: Optional[int] = None
    centered: bool = True        # False: data in [0, 1], rescaled to [-1, 1] inside
    dtype: Any = jnp.float32     # compute dtype; parameters stay float32

    def __post_init__(self):
        layers.get_act(self.nonlinearity)
        check_unet_sizes(self.nf, self.ch_mult, self.num_res_blocks, self.dropout)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array, train: bool = False) -> jax.Array:
        num_levels = len(self.ch_mult)
        check_input(x, labels, num_levels, self.image_size, self.num_channels)
        act = layers.get_act(self.nonlinearity)
        nf, dt = self.nf, self.dtype
        channels = x.shape[-1]

        if self.conditional:
            temb = timestep_embedding(labels, nf)
            temb = nn.Dense(4 * nf, kernel_init=layers.default_init(), dtype=dt)(temb)
            temb = nn.Dense(4 * nf, kernel_init=layers.default_init(), dtype=dt)(act(temb))
        else:
            temb = None

        def resblock(out_ch=None):
            return layers.ResnetBlockDDPM(out_ch=out_ch, act=act, dropout=self.dropout,
                                          skip_rescale=False, init_scale=0.0, dtype=dt)

        def attn():
            return layers.AttnBlock(skip_rescale=False, init_scale=0.0, dtype=dt)

        h = x if self.centered else 2 * x - 1.0
        hs = [layers.conv3x3(nf, dtype=dt)(h)]
        for i_level in range(num_levels):
            for _ in range(self.num_res_blocks):
                h = resblock(nf * self.ch_mult[i_level])(hs[-1], temb, train)
                if h.shape[1] in self.attn_resolutions:
                    h = attn()(h)
                hs.append(h)
            if i_level != num_levels - 1:
                hs.append(layers.Downsample(with_conv=self.resamp_with_conv, dtype=dt)(hs[-1]))

        h = hs[-1]
        h = resblock()(h, temb, train)
        h = attn()(h)
        h = resblock()(h, temb, train)

        for i_level in reversed(range(num_levels)):
            for _ in range(self.num_res_blocks + 1):
                h = resblock(nf * self.ch_mult[i_level])(
                    jnp.concatenate([h, hs.pop().astype(h.dtype)], axis=-1), temb, train)
                if h.shape[1] in self.attn_resolutions:
                    h = attn()(h)
            if i_level != 0:
                h = layers.Upsample(with_conv=self.resamp_with_conv, dtype=dt)(h)
        assert not hs

        h = act(layers.group_norm(h.shape[-1], dt)(h))
        h = layers.conv3x3(channels, init_scale=0.0, dtype=dt)(h)
        return h.astype(jnp.float32)


DDPM_DEFAULTS = dict(nf=128, ch_mult=(1, 2, 2, 2), num_res_blocks=2, attn_resolutions=(16,),
                     dropout=0.1, resamp_with_conv=True, conditional=True, nonlinearity="swish",
                     centered=True)


def ddpm_from_config(cfg) -> DDPM:
    """``MODELS["ddpm"]``: DDPM from a ``model`` ConfigDict; missing keys take score_sde's defaults."""
    kw = {k: cfg.get(k, v) for k, v in DDPM_DEFAULTS.items()}
    kw["ch_mult"] = tuple(kw["ch_mult"])
    kw["attn_resolutions"] = tuple(kw["attn_resolutions"])
    kw["nonlinearity"] = str(kw["nonlinearity"]).lower()
    return DDPM(**kw, image_size=cfg.get("image_size", None),
                num_channels=cfg.get("num_channels", None), dtype=_dtype(cfg.get("dtype", None)))
