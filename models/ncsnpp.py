"""NCSN++ and DDPM++ (Song et al. 2021): one configurable U-Net, as score_sde's ``ncsnpp``.

NCSN++ (VE): BigGAN residual blocks with FIR resampling, an output-skip image pyramid on the way
up, an input-skip pyramid on the way down, Fourier features of log σ, and the output divided by
σ (``scale_by_sigma``). DDPM++ (VP): the same network with BigGAN blocks, no pyramids, plain
resampling and a sinusoidal embedding of t·(N-1). See ``NCSNPP_DEFAULTS`` / ``DDPMPP_DEFAULTS``.

Call: ``model.apply(params, x, labels, train=False, rngs={'dropout': key})`` with
``x: [B, H, W, C]`` and ``labels: [B]`` (σ for the "fourier" embedding, t·(N-1) for
"positional"); returns ``[B, H, W, C]`` float32.

Config (the ``model`` section; score_sde names): nf, ch_mult, num_res_blocks, attn_resolutions,
dropout, resamp_with_conv, fir, fir_kernel, skip_rescale, resblock_type, progressive,
progressive_input, progressive_combine, embedding_type, fourier_scale, conditional,
scale_by_sigma, init_scale, nonlinearity; and, read from the model section under the same names
as score_sde's ``data`` keys: ``centered`` (score_sde's data.centered: False means data in [0, 1],
rescaled by 2x - 1 inside), ``image_size`` and ``num_channels`` (optional: when set, inputs are
checked against them; the network itself takes H, W and C from the input). ``dtype``
("float32" | "bfloat16" | "float16") is the compute dtype; parameters are always float32.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from models import layers
from models.embeddings import NoiseEmbedding

RESBLOCK_TYPES = ("ddpm", "biggan")
PROGRESSIVE = ("none", "output_skip", "residual")
PROGRESSIVE_INPUT = ("none", "input_skip", "residual")
PROGRESSIVE_COMBINE = ("sum", "cat")
EMBEDDING_TYPES = ("fourier", "positional")


def _check_choice(name: str, value: str, valid: tuple) -> None:
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {list(valid)}")


def check_unet_sizes(nf: int, ch_mult, num_res_blocks: int, dropout: float) -> None:
    """Shared constructor checks for the U-Nets (errors before any compute)."""
    if int(nf) != nf or nf < 4:
        raise ValueError(f"nf must be an integer >= 4 (group norm uses C // 4 groups); got {nf!r}")
    if len(ch_mult) < 1 or any(int(m) != m or m < 1 for m in ch_mult):
        raise ValueError(f"ch_mult must be a non-empty sequence of integers >= 1; got {ch_mult!r}")
    if int(num_res_blocks) != num_res_blocks or num_res_blocks < 0:
        raise ValueError(f"num_res_blocks must be an integer >= 0; got {num_res_blocks!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1); got {dropout!r}")


def check_input(x: jax.Array, labels: jax.Array, num_levels: int, image_size: Optional[int],
                num_channels: Optional[int]) -> None:
    if x.ndim != 4:
        raise ValueError(f"expected x: [B, H, W, C]; got shape {x.shape}")
    B, H, W, C = x.shape
    if labels.shape != (B,):
        raise ValueError(f"expected labels: [B] = [{B}]; got shape {labels.shape}")
    f = 2 ** (num_levels - 1)
    if H % f or W % f:
        raise ValueError(f"image size {H}x{W} must be divisible by 2**(len(ch_mult)-1) = {f}")
    if image_size is not None and (H, W) != (image_size, image_size):
        raise ValueError(f"model configured for image_size {image_size}; got {H}x{W}")
    if num_channels is not None and C != num_channels:
        raise ValueError(f"model configured for num_channels {num_channels}; got {C}")


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
        _check_choice("resblock_type", self.resblock_type, RESBLOCK_TYPES)
        _check_choice("progressive", self.progressive, PROGRESSIVE)
        _check_choice("progressive_input", self.progressive_input, PROGRESSIVE_INPUT)
        _check_choice("progressive_combine", self.progressive_combine, PROGRESSIVE_COMBINE)
        _check_choice("embedding_type", self.embedding_type, EMBEDDING_TYPES)
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
        emb_dim = 2 * nf if self.embedding_type == "fourier" else nf
        temb = NoiseEmbedding(self.embedding_type, emb_dim, self.fourier_scale)(labels)
        if self.conditional:
            temb = nn.Dense(4 * nf, kernel_init=layers.default_init(), dtype=dt)(temb)
            temb = nn.Dense(4 * nf, kernel_init=layers.default_init(), dtype=dt)(act(temb))
        else:
            temb = None

        if self.resblock_type == "ddpm":
            def resblock(out_ch=None, up=False, down=False):
                return layers.ResnetBlockDDPM(out_ch=out_ch, act=act, dropout=self.dropout,
                                              skip_rescale=self.skip_rescale,
                                              init_scale=self.init_scale, dtype=dt)
        else:
            def resblock(out_ch=None, up=False, down=False):
                return layers.ResnetBlockBigGAN(out_ch=out_ch, act=act, up=up, down=down,
                                                dropout=self.dropout, fir=self.fir,
                                                fir_kernel=tuple(self.fir_kernel),
                                                skip_rescale=self.skip_rescale,
                                                init_scale=self.init_scale, dtype=dt)

        def attn():
            return layers.AttnBlock(skip_rescale=self.skip_rescale, init_scale=self.init_scale, dtype=dt)

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


# Defaults for keys a config leaves out (score_sde's cifar10 ncsnpp / ddpmpp configs).
NCSNPP_DEFAULTS = dict(
    nf=128, ch_mult=(1, 2, 2, 2), num_res_blocks=4, attn_resolutions=(16,), dropout=0.1,
    resamp_with_conv=True, fir=True, fir_kernel=(1, 3, 3, 1), skip_rescale=True,
    resblock_type="biggan", progressive="output_skip", progressive_input="input_skip",
    progressive_combine="sum", embedding_type="fourier", fourier_scale=16.0, conditional=True,
    scale_by_sigma=True, init_scale=0.0, nonlinearity="swish", centered=False)

DDPMPP_DEFAULTS = dict(
    NCSNPP_DEFAULTS, fir=False, progressive="none", progressive_input="none",
    embedding_type="positional", scale_by_sigma=False, centered=True)


def _dtype(name) -> Any:
    if name is None:
        return jnp.float32
    valid = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}
    if isinstance(name, str):
        if name not in valid:
            raise ValueError(f"unknown model dtype {name!r}; valid: {sorted(valid)}")
        return valid[name]
    return name


def _ncsnpp_from(cfg, defaults: dict) -> NCSNpp:
    kw = {k: cfg.get(k, v) for k, v in defaults.items()}
    for k in ("ch_mult", "attn_resolutions", "fir_kernel"):
        kw[k] = tuple(kw[k])
    for k in ("resblock_type", "progressive", "progressive_input", "progressive_combine",
              "embedding_type", "nonlinearity"):
        kw[k] = str(kw[k]).lower()
    return NCSNpp(**kw, image_size=cfg.get("image_size", None),
                  num_channels=cfg.get("num_channels", None), dtype=_dtype(cfg.get("dtype", None)))


def ncsnpp_from_config(cfg) -> NCSNpp:
    """``MODELS["ncsnpp"]``: NCSNpp from a ``model`` ConfigDict; missing keys take NCSN++ defaults."""
    return _ncsnpp_from(cfg, NCSNPP_DEFAULTS)


def ddpmpp_from_config(cfg) -> NCSNpp:
    """``MODELS["ddpmpp"]``: NCSNpp from a ``model`` ConfigDict; missing keys take DDPM++ defaults."""
    return _ncsnpp_from(cfg, DDPMPP_DEFAULTS)
