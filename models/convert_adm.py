"""guided-diffusion ``UNetModel`` state dicts (DDS, DPS, guided-diffusion's own releases) -> our
``adm`` parameters.

Our submodule names are the PyTorch module paths with each numeric index joined to the name
before it, so ``input_blocks.4.1.qkv.weight`` is our ``input_blocks_4_1/qkv/kernel`` (a 1-D
convolution ``[3C, C, 1]`` stored as a matmul kernel ``[C, 3C]``); the layout changes are those
of models/convert_common.py. The attention head count and q/k/v order change no shape: they
must match the checkpoint's training settings (``num_heads`` / ``num_head_channels`` /
``use_new_attention_order``), which only the outputs can tell.
"""
from __future__ import annotations

import re
from typing import Mapping

import numpy as np

from models.convert_common import fill_module, first_differing_axis

_INDEX = re.compile(r"\.(\d+)(?=\.|$)")


def merged_key(key: str) -> str:
    """``input_blocks.1.0.in_layers.2.weight`` -> ``input_blocks_1_0.in_layers_2.weight``."""
    return _INDEX.sub(r"_\1", key)


def hint(path: tuple, ours: tuple, theirs: tuple) -> str:
    if not path or not ours or not theirs:
        return ("num_res_blocks / channel_mult / attention_resolutions (downsampling factors) / "
                "resblock_updown / num_classes")
    top, leaf = path[0], path[-1]
    axis = first_differing_axis(tuple(ours), tuple(theirs))
    if top == "input_blocks_0_0" and leaf == "kernel" and axis == 2:
        return "num_channels (the input channels, guided-diffusion's in_channels)"
    if top == "out_2":
        return "out_channels / learn_sigma (learned σ doubles the output channels)"
    if len(path) > 1 and path[1] == "emb_layers_1":
        return "use_scale_shift_norm (doubles the embedding projection) / model_channels"
    if top == "label_emb":
        return "num_classes"
    return "model_channels / channel_mult"


def torch_state_to_params(sd: Mapping[str, np.ndarray], template: Mapping, where: str) -> dict:
    """A guided-diffusion ``UNetModel.state_dict()`` -> our params (shapes of ``template``)."""
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    source = {merged_key(k): v for k, v in sd.items()}
    return fill_module(template, source, where, hint)
