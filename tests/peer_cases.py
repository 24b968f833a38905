"""The peer-checkpoint fixtures (tests/fixtures/peer, see its README): paths, cases, configs."""
from __future__ import annotations

import gzip
import json
import os

import jax
import numpy as np

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "peer")
_TUPLES = ("ch_mult", "attn_resolutions", "fir_kernel", "channel_mult", "attention_resolutions")


def path(name: str) -> str:
    return os.path.join(FIXTURES, name)


def cases() -> dict:
    """name -> the case's model keys (the peer's names) plus file / layout / weights / params."""
    out = {}
    for f in ("cases_ssp.json", "cases_flax.json", "cases_adm.json"):
        with open(path(f)) as fh:
            out.update(json.load(fh))
    return out


def model_config(case: dict) -> dict:
    """The case as a ``model`` section for ``models.get_model`` / ``load_checkpoint``."""
    return {k: (tuple(v) if k in _TUPLES else v) for k, v in case.items()}


def checkpoint_file(name: str, case: dict) -> str:
    return path(case.get("file") or f"{name}.pth")


def weights(case: dict) -> list[str]:
    return case.get("weights", ["ema", "raw"])


def load_gz_json(name: str):
    with gzip.open(path(name), "rt") as f:
        return json.load(f)


def count(tree) -> int:
    return sum(int(np.prod(np.shape(x))) for x in jax.tree.leaves(tree))
