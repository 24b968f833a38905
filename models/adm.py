"""guided-diffusion's ``UNetModel`` (ADM, Dhariwal & Nichol 2021) in Flax Linen: the ``adm`` model.

Config keys are that constructor's arguments: ``model_channels``, ``out_channels``,
``num_res_blocks``, ``attention_resolutions`` (downsampling *factors* ds at which blocks attend,
as the constructor takes them: guided-diffusion's script turns "16" into image_size // 16),
``channel_mult``, ``num_heads``, ``num_head_channels``, ``num_heads_upsample``,
``use_scale_shift_norm``, ``resblock_updown``, ``use_new_attention_order``, ``conv_resample``,
``dropout``, ``num_classes``; plus ``image_size`` and ``num_channels`` (the input channels,
guided-diffusion's ``in_channels``). ``out_channels`` left out means ``num_channels``, or twice
that with ``learn_sigma = True`` (as guided-diffusion's ``create_model``). ``dtype`` is the
compute dtype (parameters stay float32); ``centered = False`` rescales [0, 1] inputs to [-1, 1].

Call: ``model.apply(variables, x, t, train=False, y=None)`` with ``x: [B, H, W, C]``,
``t: [B]`` the discrete timestep as a float in [0, N-1] (guided-diffusion without
``rescale_timesteps``, as DDS and DPS run it), ``y: [B]`` int class labels when ``num_classes``
is set. Returns ``[B, H, W, out_channels]`` float32: the ε prediction, followed by the variance
output when σ is learned. For scores use ``models.make_score_fn(..., output="eps",
label="time", continuous=False)`` on the VP SDE (β 0.1 → 20, N = 1000 is ADM's linear chain):
it keeps the first C channels. ``split_adm_output`` / ``adm_log_variance`` expose the variance.
"""
from __future__ import annotations

from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.adm_layers import ADMAttention, ADMResample, ADMResBlock, conv3, norm32
from models.build import check_input, from_config
from models.embeddings import timestep_embedding

REQUIRED = ("model_channels", "num_res_blocks", "attention_resolutions")


class ADM(nn.Module):
    """guided-diffusion ``UNetModel`` (2-D); fields are its constructor arguments."""

    model_channels: int
    num_res_blocks: int
    attention_resolutions: tuple
    out_channels: Optional[int] = None
    learn_sigma: bool = False
    dropout: float = 0.0
    channel_mult: tuple = (1, 2, 4, 8)
    conv_resample: bool = True
    num_classes: Optional[int] = None
    num_heads: int = 1
    num_head_channels: int = -1
    num_heads_upsample: int = -1
    use_scale_shift_norm: bool = False
    resblock_updown: bool = False
    use_new_attention_order: bool = False
    image_size: Optional[int] = None
    num_channels: Optional[int] = None
    centered: bool = True
    dtype: Any = jnp.float32

    def __post_init__(self):
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {self.dropout!r}")
        if int(self.num_res_blocks) != self.num_res_blocks or self.num_res_blocks < 1:
            raise ValueError(f"num_res_blocks must be an integer >= 1; got {self.num_res_blocks!r}")
        if not self.channel_mult or any(m <= 0 for m in self.channel_mult):
            raise ValueError(f"channel_mult must be positive numbers; got {self.channel_mult!r}")
        if self.num_heads < 1 and self.num_head_channels <= 0:
            raise ValueError("need num_heads >= 1 or num_head_channels > 0")
        super().__post_init__()

    def output_channels(self, in_channels: int) -> int:
        if self.out_channels is not None:
            return int(self.out_channels)
        return in_channels * (2 if self.learn_sigma else 1)

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array, train: bool = False,
                 y: Optional[jax.Array] = None) -> jax.Array:
        check_input(x, labels, len(self.channel_mult), self.image_size, self.num_channels)
        if (y is None) != (self.num_classes is None):
            raise ValueError("pass y (class labels [B]) if and only if num_classes is set")
        mc, dt = self.model_channels, self.dtype
        heads_up = self.num_heads if self.num_heads_upsample == -1 else self.num_heads_upsample

        emb = timestep_embedding(labels, mc, flip_sin_to_cos=True, freq_shift=0)
        emb = nn.Dense(4 * mc, dtype=dt, name="time_embed_0")(emb)
        emb = nn.Dense(4 * mc, dtype=dt, name="time_embed_2")(nn.silu(emb))
        if self.num_classes is not None:
            emb = emb + nn.Embed(self.num_classes, 4 * mc, name="label_emb")(y).astype(emb.dtype)

        def res(out, name, **kw):
            return ADMResBlock(out, self.dropout, self.use_scale_shift_norm, dtype=dt, name=name, **kw)

        def attn(name, heads):
            return ADMAttention(heads, self.num_head_channels, self.use_new_attention_order,
                                dtype=dt, name=name)

        h = x if self.centered else 2 * x - 1.0
        ch = int(self.channel_mult[0] * mc)
        hs = [conv3(ch, dt, "input_blocks_0_0")(h)]
        ds, i = 1, 1
        for level, mult in enumerate(self.channel_mult):
            for _ in range(self.num_res_blocks):
                ch = int(mult * mc)
                h = res(ch, f"input_blocks_{i}_0")(hs[-1], emb, train)
                if ds in self.attention_resolutions:
                    h = attn(f"input_blocks_{i}_1", self.num_heads)(h)
                hs.append(h)
                i += 1
            if level != len(self.channel_mult) - 1:
                name = f"input_blocks_{i}_0"
                down = (res(ch, name, down=True)(hs[-1], emb, train) if self.resblock_updown
                        else ADMResample(ch, False, self.conv_resample, dt, name=name)(hs[-1]))
                hs.append(down)
                ds, i = ds * 2, i + 1

        h = res(ch, "middle_block_0")(hs[-1], emb, train)
        h = attn("middle_block_1", self.num_heads)(h)
        h = res(ch, "middle_block_2")(h, emb, train)

        i = 0
        for level, mult in list(enumerate(self.channel_mult))[::-1]:
            for r in range(self.num_res_blocks + 1):
                ch = int(mc * mult)
                h = res(ch, f"output_blocks_{i}_0")(
                    jnp.concatenate([h, hs.pop().astype(h.dtype)], axis=-1), emb, train)
                j = 1
                if ds in self.attention_resolutions:
                    h = attn(f"output_blocks_{i}_1", heads_up)(h)
                    j = 2
                if level and r == self.num_res_blocks:
                    name = f"output_blocks_{i}_{j}"
                    h = (res(ch, name, up=True)(h, emb, train) if self.resblock_updown
                         else ADMResample(ch, True, self.conv_resample, dt, name=name)(h))
                    ds //= 2
                i += 1
        assert not hs

        h = nn.silu(norm32(ch, dt, "out_0")(h))
        h = conv3(self.output_channels(x.shape[-1]), dt, "out_2", zero=True)(h)
        return h.astype(jnp.float32)


def adm_from_config(cfg) -> ADM:
    """``MODELS["adm"]``: ADM from a ``model`` section (guided-diffusion's argument names)."""
    missing = [k for k in REQUIRED if k not in cfg]
    if missing:
        raise ValueError(f"model.name='adm' needs model.{', model.'.join(missing)} "
                         "(guided-diffusion UNetModel has no default for them)")
    return from_config(ADM, cfg, tuples=("attention_resolutions", "channel_mult"))


def split_adm_output(out: jax.Array, channels: Optional[int] = None) -> tuple[jax.Array, jax.Array]:
    """``out: [B, H, W, 2C]`` of a learned-σ ADM -> ``(eps, v)``, each ``[B, H, W, C]``.

    ``v`` is Improved DDPM's variance output (not clipped; nominally in [-1, 1]): with
    ``frac = (v + 1) / 2`` the reverse-step variance is
    ``log σ²_t = frac · log β_t + (1 − frac) · log β̃_t`` with β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t)
    and β̃_0 replaced by β̃_1 (guided-diffusion's ``posterior_log_variance_clipped``); see
    ``adm_log_variance``. ``channels`` defaults to half the output channels.
    """
    c = out.shape[-1] // 2 if channels is None else int(channels)
    if out.shape[-1] != 2 * c:
        raise ValueError(f"expected 2·{c} output channels (ε then v); got {out.shape[-1]}")
    return out[..., :c], out[..., c:]


def adm_log_variance(v: jax.Array, chain, i: jax.Array) -> jax.Array:
    """Per-pixel log variance ``[B, H, W, C]`` of p(x_{i-1} | x_i) from ADM's ``v`` at steps ``i: [B]``.

    ``chain``: an ``sde_lib.DDPMChain`` (for a VP SDE, ``sde.chain``); the formula is in
    ``split_adm_output``. Clipping β̃_0 -> β̃_1 keeps the log finite at the last step.
    """
    post = chain.posterior_variance
    log_post = jnp.log(jnp.concatenate([post[1:2], post[1:]]))
    max_log = jnp.log(chain.betas)[i][:, None, None, None]
    min_log = log_post[i][:, None, None, None]
    frac = (v + 1.0) / 2.0
    return frac * max_log + (1.0 - frac) * min_log
