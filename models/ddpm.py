"""The DDPM U-Net of Ho et al. (2020), exactly as score_sde's ``ddpm`` model (names and keys).

As score_sde (and unlike Ho et al.'s TF code, which attends after every block), the way up
applies attention once per level, after that level's residual blocks: score_sde's vp/ddpm
CIFAR-10 network has 35,218,947 parameters. Group norm uses 32 groups (``num_groups``; not a
score_sde key: None picks min(C // 4, 32) so tiny test models with nf < 32 can be built).
The parameter tree is score_sde's (``Dense_0``, ``Conv_0``, ``ResnetBlockDDPM_0``, ``AttnBlock_0``,
``Downsample_0``, ...). ``scale_by_sigma`` is not supported (it divides by the SMLD σ ladder
at integer labels; no released checkpoint uses it) and raises.

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
from models.build import check_choice, check_input, check_unet_sizes, from_config
from models.embeddings import timestep_embedding


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
    scale_by_sigma: bool = False
    normalization: str = "GroupNorm"
    num_groups: Optional[int] = 32
    dtype: Any = jnp.float32     # compute dtype; parameters stay float32

    def __post_init__(self):
        layers.get_act(self.nonlinearity)
        check_unet_sizes(self.nf, self.ch_mult, self.num_res_blocks, self.dropout)
        check_choice("normalization", self.normalization, ("GroupNorm",))
        if self.scale_by_sigma:
            raise ValueError("ddpm with scale_by_sigma=True (score_sde's SMLD-ladder variant) is "
                             "not supported; use ncsnpp with embedding_type 'fourier'")
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

        g = self.num_groups

        def resblock(out_ch=None):
            return layers.ResnetBlockDDPM(out_ch=out_ch, act=act, dropout=self.dropout,
                                          num_groups=g, dtype=dt)

        def attn():
            return layers.AttnBlock(num_groups=g, dtype=dt)

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

        h = act(layers.group_norm(h.shape[-1], dt, g)(h))
        h = layers.conv3x3(channels, init_scale=0.0, dtype=dt)(h)
        return h.astype(jnp.float32)


def ddpm_from_config(cfg) -> DDPM:
    """``MODELS["ddpm"]``: DDPM from a ``model`` section; missing keys take score_sde's defaults."""
    return from_config(DDPM, cfg, tuples=("ch_mult", "attn_resolutions"), lower=("nonlinearity",))
