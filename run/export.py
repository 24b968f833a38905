"""``--mode export``: the workdir's latest EMA parameters as a prior that ships (:mod:`run.prior`).

    python main.py --config configs/mri/brain128.py --workdir runs/brain128 --mode export

writes ``config.prior_dir`` (``ema_params.msgpack`` + ``prior.json``). The record carries the
step, the network and data settings, how long and at what batch the run trained, and, when
``--mode eval`` ran on the same step, its held-out scores.
"""
from __future__ import annotations

import json
import os
import sys

import jax

from run import builders, prior
from run.builders import ConfigError
from run.context import load_ema, start_run


def export(config, workdir: str) -> str:
    start_run(config)
    prior_dir = str(config.get("prior_dir", "") or "")
    if not prior_dir:
        raise ConfigError("--mode export writes the prior to config.prior_dir; set it, e.g. "
                          "--config.prior_dir=priors/my_prior")
    workdir = builders.prepare_workdir(workdir)
    if not os.path.isdir(os.path.join(workdir, "checkpoints")) or not os.listdir(os.path.join(workdir, "checkpoints")):
        raise FileNotFoundError(f"no checkpoint in {workdir}/checkpoints to export: run --mode train first")
    _, params, step = load_ema(config, workdir)
    t = config.training
    info = dict(trained=dict(n_iters=int(t.n_iters), batch_size=int(t.batch_size), lr=float(config.optim.lr),
                             ema_rate=float(config.model.ema_rate), seed=int(config.seed)),
                command=" ".join(sys.argv) if sys.argv and sys.argv[0].endswith("main.py") else "")
    scores = os.path.join(workdir, f"eval_{step}.json")
    if os.path.isfile(scores):
        with open(scores) as f:
            info["heldout"] = json.load(f)
    path = ""
    if jax.process_index() == 0:
        path = prior.export_prior(config, params, step, prior_dir, info)
        print(f"wrote {path} ({os.path.getsize(path) / 2**20:.1f} MiB, step {step})")
    return path
