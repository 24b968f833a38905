"""From a ``model`` config section to a Flax module: the shared parsing and constructor checks.

Each network states its defaults once, as the fields of its Flax dataclass. ``from_config``
passes on only the keys the config has (score_sde configs carry many keys a given network does
not read, e.g. ``normalization`` or ``conv_size``; those are ignored), so a key the config omits
takes the field's default, and a family of presets (DDPM++ over NCSN++'s fields) is one small
override dict.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional

import jax
import jax.numpy as jnp

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


def parse_dtype(name) -> Any:
    """``"float32" | "bfloat16" | "float16"`` (or a dtype, or None = float32) -> a jnp dtype."""
    if name is None:
        return jnp.float32
    if isinstance(name, str):
        if name not in DTYPES:
            raise ValueError(f"unknown model dtype {name!r}; valid: {sorted(DTYPES)}")
        return DTYPES[name]
    return name


def check_choice(name: str, value: str, valid) -> None:
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {list(valid)}")


def field_names(cls) -> list[str]:
    """The constructor fields of a Flax module class (without Flax's ``parent`` / ``name``)."""
    return [f.name for f in dataclasses.fields(cls) if f.name not in ("parent", "name")]


def from_config(cls, cfg: Mapping, overrides: Optional[Mapping] = None, *, tuples=(),
                lower=()):
    """``cls(**kw)`` with ``kw`` = ``overrides`` updated by the config keys that are fields of ``cls``.

    ``tuples``: keys turned into tuples (config lists); ``lower``: string keys lower-cased, as
    score_sde does; ``dtype`` goes through ``parse_dtype``.
    """
    kw = dict(overrides or {})
    for key in field_names(cls):
        if key in cfg:
            kw[key] = cfg[key]
    for key in tuples:
        if key in kw:
            kw[key] = tuple(kw[key])
    for key in lower:
        if key in kw:
            kw[key] = str(kw[key]).lower()
    if "dtype" in kw:
        kw["dtype"] = parse_dtype(kw["dtype"])
    return cls(**kw)


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
    """``x: [B, H, W, C]``, ``labels: [B]``, H and W divisible by 2**(num_levels-1)."""
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
