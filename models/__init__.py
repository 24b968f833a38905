"""Flax Linen score networks and the map from network output to a score.

Every network is called as ``model.apply(params, x, labels, train=False)`` with ``x: [B, ...]``
and ``labels: [B]`` (see models.score for what the labels are).
"""
from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn

from models.mlp import MLPScore
from models.score import make_score_fn, noise_labels, noise_std, check_parametrization
from models.ncsnpp import NCSNpp, ncsnpp_from_config, ddpmpp_from_config
from models.ddpm import DDPM, ddpm_from_config
from models.unet_configs import small_unet_config
from models.inception import FIDInceptionV3, inception_variables_from_state_dict  # noqa: F401 (FID, KID, IS)


def _mlp(cfg) -> nn.Module:
    return MLPScore(hidden=cfg.get("hidden", 128), num_layers=cfg.get("num_layers", 3),
                    embedding_type=cfg.get("embedding_type", "positional"),
                    embed_dim=cfg.get("embed_dim", 64), fourier_scale=cfg.get("fourier_scale", 16.0),
                    dropout=cfg.get("dropout", 0.0))


# name -> constructor taking the config's `model` section. The one registry of model names.
MODELS: dict[str, Callable[[Any], nn.Module]] = {
    "mlp": _mlp,
    "ncsnpp": ncsnpp_from_config,
    "ddpmpp": ddpmpp_from_config,
    "ddpm": ddpm_from_config,
}


def get_model(model_config) -> nn.Module:
    name = model_config.name
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {sorted(MODELS)}")
    return MODELS[name](model_config)


__all__ = ["MLPScore", "MODELS", "get_model", "make_score_fn", "noise_labels", "noise_std",
           "check_parametrization"]
