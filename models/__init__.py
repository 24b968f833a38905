"""Flax Linen score networks, peer-checkpoint loading, and the map from network output to a score.

Every network is called as ``model.apply(variables, x, labels, train=False)`` with
``x: [B, ...]`` and ``labels: [B]`` (see models.score for what the labels are). Networks:
``mlp``, ``ncsnpp`` / ``ddpmpp`` / ``ddpm`` (score_sde's, parameter trees included) and ``adm``
(guided-diffusion's UNetModel). ``load_checkpoint`` reads the released checkpoints of
score_sde, score_sde_pytorch, score-MRI and guided-diffusion (DDS, DPS) into ``variables``.
"""
from __future__ import annotations

from models.adm import ADM, adm_log_variance, split_adm_output
from models.checkpoints import CheckpointFormatError, checkpoint_step, load_checkpoint
from models.conv import conv2d, reverse_mode_convs
from models.ddpm import DDPM
from models.mlp import MLPScore
from models.inception import FIDInceptionV3, inception_variables_from_state_dict
from models.ncsnpp import NCSNpp
from models.registry import MODELS, get_model
from models.score import check_parametrization, make_score_fn, noise_labels, noise_std
from models.torch_io import read_torch_file

__all__ = ["ADM", "CheckpointFormatError", "DDPM", "FIDInceptionV3", "MLPScore", "MODELS", "NCSNpp",
           "adm_log_variance", "check_parametrization", "checkpoint_step", "get_model",
           "load_checkpoint", "make_score_fn", "noise_labels", "noise_std", "read_torch_file",
           "split_adm_output", "inception_variables_from_state_dict", "conv2d", "reverse_mode_convs"]
