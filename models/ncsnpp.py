"""NCSN++ and DDPM++ (Song et al. 2021): one configurable U-Net, as score_sde's ``ncsnpp``.

NCSN++ (VE): BigGAN residual blocks with FIR resampling, an output-skip image pyramid on the way
up, an input-skip pyramid on the way down, Fourier features of log σ, and the output divided by
σ (``scale_by_sigma``). DDPM++ (VP): the same network with BigGAN blocks, no pyramids, plain
resampling and a sinusoidal embedding of t·(N-1). The architecture follows the config keys, not
the name: a score_sde config with ``name = "ncsnpp"`` and DDPM++ settings builds DDPM++.
``NCSNpp``'s fields are the NCSN++ defaults; ``DDPMPP_OVERRIDES`` are what the ``ddpmpp`` name
changes in them for keys a config leaves out.

Call: ``model.apply(variables, x, labels, train=False, rngs={'dropout': key})`` with
``x: [B, H, W, C]`` and ``labels: [B]`` (σ for the "fourier" embedding, t·(N-1) for
"positional"); returns ``[B, H, W, C]`` float32. The parameter tree is score_sde's
(``GaussianFourierProjection_0``, ``Dense_0``, ``Conv_0``, ``ResnetBlockBigGANpp_0``, ...).

Config (the ``model`` section; score_sde names): nf, ch_mult, num_res_blocks, attn_resolutions,
dropout, resamp_with_conv, fir, fir_kernel, skip_rescale, resblock_type, progressive,
progressive_input, progressive_combine, embedding_type, fourier_scale, conditional,
scale_by_sigma, init_scale, nonlinearity; and, read from the model section under the same names
as score_sde's ``data`` keys: ``centered`` (score_sde's data.centered: False means data in [0, 1],
rescaled by 2x - 1 inside), ``image_size`` and ``num_channels`` (optional: when set, inputs are
checked against them; the network itself takes H, W and C from the input). ``dtype``
("float32" | "bfloat16" | "float16") is the compute dtype; parameters are always float32.
score_sde keys this network does not read (normalization, attention_type, conv_size, ...) are
ignored, as score_sde ignores them.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from models import layers
from models.build import check_choice, check_input, check_unet_sizes, from_config
from models.embeddings import GaussianFourierProjection, timestep_embedding

RESBLOCK_TYPES = ("ddpm", "biggan")
PROGRESSIVE = ("none", "output_skip", "residual")
PROGRESSIVE_INPUT = ("none", "input_skip", "residual")
PROGRESSIVE_COMBINE = ("sum", "cat")
EMBEDDING_TYPES = ("fourier", "positional")


class NCSNpp(nn.Module):
    """NCSN++ / DDPM++ score network (fields keep score_sde's config names)."""

    nf: int = 128
    ch_mult: tuple = (1, 2, 2, 2)
    num_res_blocks: int = 4
    attn_resolutions: tuple = (16,)
    dropout: float = 0.1
    resamp_with_conv: bool = True
    fir: bool = True
    fir_kernel: tuple = (1, 3, 3, 1)
    skip_rescale: bool = True
    resblock_type: str = "biggan"
    progressive: str = "output_skip"
    progressive_input: str = "input_skip"
    progressive_combine: str = "sum"
    embedding_type: str = "fourier"
    fourier_scale: float = 16.0
    conditional: bool = True
    scale_by_sigma: bool = True
    init_scale: float = 0.0
    nonlinearity: str = "swish"
    image_size: Optional[int] = None     # None: any size divisible by 2**(len(ch_mult)-1)
    num_channels: Optional[int] = None   # None: taken from the input
    centered: bool = False               # False: data in [0, 1], rescaled to [-1, 1] inside
    dtype: Any = jnp.float32             # compute dtype; parameters stay float32

    def __post_init__(self):
        check_choice("resblock_type", self.resblock_type, RESBLOCK_TYPES)
        check_choice("progressive", self.progressive, PROGRESSIVE)
        check_choice("progressive_input", self.progressive_input, PROGRESSIVE_INPUT)
        check_choice("progressive_combine", self.progressive_combine, PROGRESSIVE_COMBINE)
        check_choice("embedding_type", self.embedding_type, EMBEDDING_TYPES)
        layers.get_act(self.nonlinearity)
        check_unet_sizes(self.nf, self.ch_mult, self.num_res_blocks, self.dropout)
        if self.scale_by_sigma and self.embedding_type != "fourier":
            raise ValueError("scale_by_sigma divides by the σ labels, so it needs embedding_type "
                             "'fourier' (positional labels are t·(N-1), not σ)")
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array, train: bool = False) -> jax.Array:
        num_levels = len(self.ch_mult)
        check_input(x, labels, num_levels, self.image_size, self.num_channels)
        act = layers.get_act(self.nonlinearity)
        nf, dt = self.nf, self.dtype
        channels = x.shape[-1]
        sqrt2 = math.sqrt(2.0)

        # Noise-level embedding: Fourier features of log σ (2·nf) or sinusoids of t·(N-1) (nf).
        if self.embedding_type == "fourier":
            temb = GaussianFourierProjection(nf, self.fourier_scale)(jnp.log(labels))
        else:
            temb = timestep_embedding(labels, nf)
        if self.conditional:
            temb = nn.Dense(4 * nf, kernel_init=layers.default_init(), dtype=dt)(temb)
            temb = nn.Dense(4 * nf, kernel_init=layers.default_init(), dtype=dt)(act(temb))
        else:
            temb = None

        if self.resblock_type == "ddpm":
            def resblock(out_ch=None, up=False, down=False):
                return layers.ResnetBlockDDPMpp(out_ch=out_ch, act=act, dropout=self.dropout,
                                                skip_rescale=self.skip_rescale,
                                                init_scale=self.init_scale, dtype=dt)
        else:
            def resblock(out_ch=None, up=False, down=False):
                return layers.ResnetBlockBigGANpp(out_ch=out_ch, act=act, up=up, down=down,
                                                  dropout=self.dropout, fir=self.fir,
                                                  fir_kernel=tuple(self.fir_kernel),
                                                  skip_rescale=self.skip_rescale,
                                                  init_scale=self.init_scale, dtype=dt)

        def attn():
            return layers.AttnBlockpp(skip_rescale=self.skip_rescale, init_scale=self.init_scale,
                                      dtype=dt)

        fk = tuple(self.fir_kernel)
        if not self.centered:
            x = 2 * x - 1.0  # data in [0, 1] -> [-1, 1], as score_sde

        # ---- down ----
        input_pyramid = x if self.progressive_input != "none" else None
        hs = [layers.conv3x3(nf, dtype=dt)(x)]
        for i_level in range(num_levels):
            for _ in range(self.num_res_blocks):
                h = resblock(out_ch=nf * self.ch_mult[i_level])(hs[-1], temb, train)
                if h.shape[1] in self.attn_resolutions:
                    h = attn()(h)
                hs.append(h)
            if i_level != num_levels - 1:
                if self.resblock_type == "ddpm":
                    h = layers.Downsample(with_conv=self.resamp_with_conv, fir=self.fir,
                                          fir_kernel=fk, dtype=dt)(hs[-1])
                else:
                    h = resblock(down=True)(hs[-1], temb, train)
                if self.progressive_input == "input_skip":
                    input_pyramid = layers.Downsample(with_conv=False, fir=self.fir, fir_kernel=fk,
                                                      dtype=dt)(input_pyramid)
                    h = layers.Combine(method=self.progressive_combine, dtype=dt)(input_pyramid, h)
                elif self.progressive_input == "residual":
                    input_pyramid = layers.Downsample(out_ch=h.shape[-1], with_conv=True, fir=self.fir,
                                                      fir_kernel=fk, dtype=dt)(input_pyramid)
                    input_pyramid = (input_pyramid + h) / sqrt2 if self.skip_rescale else input_pyramid + h
                    h = input_pyramid
                hs.append(h)

        # ---- middle ----
        h = hs[-1]
        h = resblock()(h, temb, train)
        h = attn()(h)
        h = resblock()(h, temb, train)

        # ---- up ----
        pyramid = None
        for i_level in reversed(range(num_levels)):
            for _ in range(self.num_res_blocks + 1):
                skip = hs.pop()
                h = resblock(out_ch=nf * self.ch_mult[i_level])(
                    jnp.concatenate([h, skip.astype(h.dtype)], axis=-1), temb, train)
            if h.shape[1] in self.attn_resolutions:
                h = attn()(h)

            if self.progressive != "none":
                if i_level == num_levels - 1:
                    if self.progressive == "output_skip":
                        pyramid = layers.conv3x3(channels, init_scale=self.init_scale, dtype=dt)(
                            act(layers.group_norm(h.shape[-1], dt)(h)))
                    else:  # residual
                        pyramid = layers.conv3x3(h.shape[-1], dtype=dt)(
                            act(layers.group_norm(h.shape[-1], dt)(h)))
                else:
                    if self.progressive == "output_skip":
                        pyramid = layers.Upsample(with_conv=False, fir=self.fir, fir_kernel=fk,
                                                  dtype=dt)(pyramid)
                        pyramid_h = layers.conv3x3(channels, init_scale=self.init_scale, dtype=dt)(
                            act(layers.group_norm(h.shape[-1], dt)(h)))
                        pyramid = pyramid + pyramid_h
                    else:  # residual
                        pyramid = layers.Upsample(out_ch=h.shape[-1], with_conv=True, fir=self.fir,
                                                  fir_kernel=fk, dtype=dt)(pyramid)
                        pyramid = (pyramid + h) / sqrt2 if self.skip_rescale else pyramid + h
                        h = pyramid

            if i_level != 0:
                if self.resblock_type == "ddpm":
                    h = layers.Upsample(with_conv=self.resamp_with_conv, fir=self.fir,
                                        fir_kernel=fk, dtype=dt)(h)
                else:
                    h = resblock(up=True)(h, temb, train)
        assert not hs

        if self.progressive == "output_skip":
            h = pyramid
        else:
            h = act(layers.group_norm(h.shape[-1], dt)(h))
            h = layers.conv3x3(channels, init_scale=self.init_scale, dtype=dt)(h)

        h = h.astype(jnp.float32)
        if self.scale_by_sigma:
            h = h / labels.astype(jnp.float32).reshape((-1, 1, 1, 1))
        return h


# What the ``ddpmpp`` name changes in NCSNpp's defaults (score_sde's vp/cifar10_ddpmpp_continuous).
DDPMPP_OVERRIDES = dict(fir=False, progressive="none", progressive_input="none",
                        embedding_type="positional", scale_by_sigma=False, centered=True)

_TUPLES = ("ch_mult", "attn_resolutions", "fir_kernel")
_LOWER = ("resblock_type", "progressive", "progressive_input", "progressive_combine",
          "embedding_type", "nonlinearity")


def ncsnpp_from_config(cfg) -> NCSNpp:
    """``MODELS["ncsnpp"]``: NCSNpp from a ``model`` section; missing keys take NCSN++ defaults."""
    return from_config(NCSNpp, cfg, tuples=_TUPLES, lower=_LOWER)


def ddpmpp_from_config(cfg) -> NCSNpp:
    """``MODELS["ddpmpp"]``: NCSNpp from a ``model`` section; missing keys take DDPM++ defaults."""
    return from_config(NCSNpp, cfg, DDPMPP_OVERRIDES, tuples=_TUPLES, lower=_LOWER)
