"""Tiny U-Net ``model`` sections for tests and CPU runs (score_sde key names).

Not a config file of its own: ``small_unet_config(name)`` returns the ``model`` part only.
"""
from __future__ import annotations

import ml_collections

_NAMES = ("ncsnpp", "ddpmpp", "ddpm")


def small_unet_config(name: str = "ncsnpp") -> ml_collections.ConfigDict:
    """A ``model`` section for ``name`` in {"ncsnpp", "ddpmpp", "ddpm"}: the family's defaults
    (the network's own fields, see models/) shrunk to nf=16, ch_mult=(1, 2), num_res_blocks=1,
    attention at 8 px, no dropout. DDPM's group norm uses min(C // 4, 32) groups here (score_sde
    fixes 32), so nf < 32 works.

    Runs on 8 px (attention at the lowest level) or 16 px images.
    """
    if name not in _NAMES:
        raise ValueError(f"unknown U-Net name {name!r}; valid: {sorted(_NAMES)}")
    cfg = ml_collections.ConfigDict()
    cfg.name = name
    cfg.nf = 16
    cfg.ch_mult = (1, 2)
    cfg.num_res_blocks = 1
    cfg.attn_resolutions = (8,)
    cfg.dropout = 0.0
    if name == "ddpm":
        cfg.num_groups = None
    return cfg
