"""The DDPM-view numbers for ``--mode eval``, as two calls the evaluation loop can make.

    result.update(vlb_metrics(config, sde, score_fn))                   # discrete VP models
    result.update(quality_metrics(config, samples_in_unit_range, workdir))  # image models

Config keys (all optional, under ``eval``): ``enable_vlb`` (default: not training.continuous),
``vlb_variance`` ("fixed_large"), ``vlb_estimator`` ("exact"), ``inception_weights`` (path to
pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``; FID / KID / IS only when set),
``fid_stats`` (reference statistics file; default ``<workdir>/fid_stats_<dataset>_<size>.npz``,
computed once from the training split and reused), ``fid_method`` ("sqrtm" as pytorch-fid, or
the fast equivalent "eigh").
"""
from __future__ import annotations

import os

import jax
import numpy as np

import datasets
import samplers
from run import digits_quality, fid, inception_features


def _pixels(config, split: str) -> np.ndarray:
    """Every image of ``split`` in model space on the 8-bit grid (no flips, no dequantisation);
    the training split where the dataset has no test split."""
    try:
        return np.asarray(datasets.get_dataset(config.data, split).all())
    except (ValueError, KeyError):
        return np.asarray(datasets.get_dataset(config.data, "train").all())


def vlb_metrics(config, sde, score_fn, var_fn=None) -> dict:
    """``{"vlb_bpd", "vlb_prior_bpd", "vlb_nfe"}`` on one held-out batch (``eval.batch_size``
    test images), or ``{}`` when the SDE has no DDPM chain, the data are not images, or
    ``eval.enable_vlb`` is false. ``var_fn``: the model's variance output for "learned"."""
    ev = config.eval
    enabled = bool(ev.get("enable_vlb", not bool(config.training.continuous)))
    if not enabled or getattr(sde, "chain", None) is None or config.data.dataset in datasets.TOY_NAMES:
        return {}
    x0 = _pixels(config, "test")[: int(ev.batch_size)]
    data_range = (-1.0, 1.0) if bool(config.data.get("centered", False)) else (0.0, 1.0)
    opts = dict(variance=ev.get("vlb_variance", "fixed_large"), estimator=ev.get("vlb_estimator", "exact"),
                var_fn=var_fn, data_range=data_range, clip_denoised=True)
    vlb = jax.jit(lambda x, k: samplers.ddpm_vlb(k, sde, score_fn, x, **opts))(x0, jax.random.PRNGKey(4242))
    return {"vlb_bpd": float(np.mean(vlb.bpd)), "vlb_prior_bpd": float(np.mean(vlb.prior_bpd)),
            "vlb_nfe": int(vlb.nfe)}


def quality_metrics(config, samples: np.ndarray, workdir: str) -> dict:
    """FID / KID / IS when ``eval.inception_weights`` is set; for digits also the offline
    digits-classifier KID / FD / score. ``samples``: ``[N, H, W, C]`` in [0, 1]."""
    out = {}
    samples = np.clip(np.asarray(samples, np.float32), 0.0, 1.0)
    to_unit = datasets.inverse_scaler(config.data)
    if config.data.dataset == "digits":
        ref = np.asarray(to_unit(_pixels(config, "train")))
        out.update(digits_quality.digits_quality(samples, ref, cache_dir=workdir))
    weights = config.eval.get("inception_weights", None)
    if weights:
        variables = inception_features.load_inception(weights)
        name = str(config.data.dataset).replace(":", "_").replace("/", "_")
        path = config.eval.get("fid_stats", None) or os.path.join(
            workdir, f"fid_stats_{name}_{int(config.data.get('image_size', 0))}.npz")
        ref = fid.reference_stats(path, lambda: inception_features.inception_features(
            variables, np.asarray(to_unit(_pixels(config, "train"))))[0])
        out.update(inception_features.image_quality(variables, samples, ref,
                                                    fid_method=config.eval.get("fid_method", "sqrtm")))
    return out
