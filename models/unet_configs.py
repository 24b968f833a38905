"""Tiny U-Net ``model`` configs for tests and CPU runs (score_sde key names)."""
from __future__ import annotations

import ml_collections

from models.ddpm import DDPM_DEFAULTS
from models.ncsnpp import DDPMPP_DEFAULTS, NCSNPP_DEFAULTS

_DEFAULTS = {"ncsnpp": NCSNPP_DEFAULTS, "ddpmpp": DDPMPP_DEFAULTS, "ddpm": DDPM_DEFAULTS}


def small_unet_config(name: str = "ncsnpp") -> ml_collections.ConfigDict:
    """A ``model`` section for ``name`` in {"ncsnpp", "ddpmpp", "ddpm"}: the family's score_sde
    defaults shrunk to nf=16, ch_mult=(1, 2), num_res_blocks=1, attention at 8 px, no dropout.

    Runs on 8 px (attention at the lowest level) or 16 px images.
    """
    if name not in _DEFAULTS:
        raise ValueError(f"unknown U-Net name {name!r}; valid: {sorted(_DEFAULTS)}")
    cfg = ml_collections.ConfigDict(dict(_DEFAULTS[name]))
    cfg.name = name
    cfg.nf = 16
    cfg.ch_mult = (1, 2)
    cfg.num_res_blocks = 1
    cfg.attn_resolutions = (8,)
    cfg.dropout = 0.0
    return cfg
