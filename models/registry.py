"""The one registry of model names: ``MODELS[name](model_section) -> flax module``."""
from __future__ import annotations

from typing import Any, Callable, Mapping

import flax.linen as nn

from models.adm import adm_from_config
from models.ddpm import ddpm_from_config
from models.mlp import MLPScore
from models.ncsnpp import ddpmpp_from_config, ncsnpp_from_config


def _mlp(cfg) -> nn.Module:
    return MLPScore(hidden=cfg.get("hidden", 128), num_layers=cfg.get("num_layers", 3),
                    embedding_type=cfg.get("embedding_type", "positional"),
                    embed_dim=cfg.get("embed_dim", 64), fourier_scale=cfg.get("fourier_scale", 16.0),
                    dropout=cfg.get("dropout", 0.0))


MODELS: dict[str, Callable[[Any], nn.Module]] = {
    "mlp": _mlp,
    "ncsnpp": ncsnpp_from_config,
    "ddpmpp": ddpmpp_from_config,
    "ddpm": ddpm_from_config,
    "adm": adm_from_config,
}


def get_model(model_config: Mapping) -> nn.Module:
    """The network of a ``model`` config section (a ConfigDict or a plain mapping)."""
    name = model_config["name"]
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {sorted(MODELS)}")
    return MODELS[name](model_config)
