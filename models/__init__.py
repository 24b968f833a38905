"""Flax Linen score networks and the map from network output to a score.

Every network is called as ``model.apply(variables, x, labels, train=False)`` with
``x: [B, ...]`` and ``labels: [B]`` (see models.score for what the labels are). Networks:
``mlp``, ``ncsnpp`` / ``ddpmpp`` / ``ddpm`` (score_sde's, parameter trees included) and ``adm``
(guided-diffusion's UNetModel).
"""
from __future__ import annotations

from models.adm import ADM, adm_log_variance, split_adm_output
from models.ddpm import DDPM
from models.mlp import MLPScore
from models.ncsnpp import NCSNpp
from models.registry import MODELS, get_model
from models.score import check_parametrization, make_score_fn, noise_labels, noise_std

__all__ = ["ADM", "DDPM", "MLPScore", "MODELS", "NCSNpp", "adm_log_variance",
           "check_parametrization", "get_model", "make_score_fn", "noise_labels", "noise_std",
           "split_adm_output"]
