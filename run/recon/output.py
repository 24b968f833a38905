"""Files of a reconstruction: images.npz, metrics.csv / metrics.json, one PNG per slice; and the
markdown table printed at the end."""
from __future__ import annotations

import csv
import json
import os

import numpy as np

import mri
from run import plots
from run.files import atomic_dir
from run.recon.problem import Problem


SUPPORT_FRACTION = 0.05   # uncertainty metrics: pixels where gt > 5 % of the volume's maximum
LOCAL_WINDOW = 5         # ... and the window of their locally averaged rank correlation (mri.uncertainty_metrics)


def summarize(problem: Problem, results: dict, n_samples: int) -> dict:
    """Per method: metrics per slice and their mean, seconds, compile seconds and NFE; ``"cs"`` for
    CS baselines (λ, its source, iterations, objective); ``"uncertainty"`` for a method with a
    std map and ``n_samples >= 2`` (:func:`mri.uncertainty_metrics` of std vs |error| over the
    object support, beside the coverage and the rank correlation a calibrated sampler with these
    std maps would reach with ``n_samples``: :func:`mri.calibrated_coverage`,
    :func:`mri.calibrated_spearman`; and the rank correlations of 5 × 5 local means and over
    every pixel, background included)."""
    methods = {}
    for name, r in results.items():
        per = mri.slice_metrics(problem.gt, r["image"])
        entry = dict(mean=mri.mean_metrics(per), per_slice=per, seconds=r["seconds"],
                     compile_seconds=r["compile_seconds"], nfe=r["nfe"])
        if "cs" in r:
            entry["cs"] = r["cs"]
        if "gamma" in r:
            entry["gamma"] = r["gamma"]
        if "std" in r and n_samples >= 2:
            unc = mri.uncertainty_metrics(problem.gt, r["image"], r["std"], SUPPORT_FRACTION, local_window=LOCAL_WINDOW)
            entry["uncertainty"] = dict(mean=mri.mean_metrics(unc, mri.UNCERTAINTY_KEYS), per_slice=unc,
                                        spearman_local=mri.mean_metrics(unc, ("spearman_local",))["spearman_local"],
                                        spearman_image=mri.mean_metrics(unc, ("spearman_image",))["spearman_image"],
                                        local_window=LOCAL_WINDOW,
                                        support=f"ground truth > {SUPPORT_FRACTION:g} x the volume's max", k=2.0,
                                        calibrated_coverage=mri.calibrated_coverage(n_samples),
                                        calibrated_spearman=mri.calibrated_spearman(problem.gt, r["std"], n_samples,
                                                                                    SUPPORT_FRACTION),
                                        n_samples=n_samples)
        methods[name] = entry
    return methods


def write_outputs(out_dir: str, problem: Problem, results: dict, method: str, meta: dict,
                  figures: bool = True, overwrite: bool = False) -> dict:
    """images.npz, metrics.csv, metrics.json and one PNG per slice; returns the JSON summary.

    The files are written into ``<out_dir>.tmp-<pid>/`` and the folder is renamed to
    ``out_dir`` when all are complete (``run.files.atomic_dir``), so a kill never leaves a
    folder that looks finished; an existing ``out_dir`` is refused unless ``overwrite``.
    """
    with atomic_dir(out_dir, overwrite) as tmp:
        return _write(tmp, problem, results, method, meta, figures)


def _write(out_dir: str, problem: Problem, results: dict, method: str, meta: dict, figures: bool) -> dict:
    arrays = {"ground_truth": problem.gt, "mask": problem.mask, "std": results[method]["std"]}
    arrays.update({f"recon_{name}": r["image"] for name, r in results.items()})
    np.savez(os.path.join(out_dir, "images.npz"), **arrays)
    summary = {"meta": meta, "methods": summarize(problem, results, int(meta.get("n_samples", 1)))}
    rows = []
    for name, r in summary["methods"].items():
        for i, m in enumerate(r["per_slice"]):
            rows.append(dict(method=name, slice=i, **m, seconds=r["seconds"], nfe=r["nfe"]))
        rows.append(dict(method=name, slice="mean", **r["mean"], seconds=r["seconds"], nfe=r["nfe"]))
    with open(os.path.join(out_dir, "metrics.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["method", "slice", "nmse", "psnr", "ssim", "seconds", "nfe"])
        writer.writeheader()
        writer.writerows(rows)
    with open(os.path.join(out_dir, "metrics.json"), "w") as f:
        json.dump(summary, f, indent=2)
    if figures:
        order = [n for n in results if n != method] + [method]
        for i in range(len(problem.gt)):
            plots.recon_figure(os.path.join(out_dir, f"slice_{i:02d}.png"), problem.gt[i],
                               {n: results[n]["image"][i] for n in order}, results[method]["std"][i],
                               f"{problem.slice_ids[i]} - {meta['mask']}")
    return summary


def _notes(r: dict) -> str:
    if "cs" in r:
        cs = r["cs"]
        tuning = cs.get("tuning") or {}
        edge = ", at the grid's edge" if tuning.get("at_edge") else ""
        if tuning.get("extended"):
            edge += f", grid grown by {tuning['extended']}"
        return (f"λ = {cs['rel_lam']:.2g}·max\\|Aᴴy\\| ({cs['source']}{edge}), {cs['iters']} it, "
                f"last ΔF/F {cs['objective_rel_change']:.0e}")
    notes = []
    if "gamma" in r:
        g = r["gamma"]
        edge = ", at the grid's edge" if g["tuning"]["at_edge"] else ""
        name = "γ floor" if g["option"] == "gamma_floor" else "γ"
        notes.append(f"{name} = {g['value']:.2g} ({g['source']}{edge})")
    if "uncertainty" in r:
        u = r["uncertainty"]
        notes.append(f"calibrated sampler with these std maps: ±2σ coverage {u['calibrated_coverage']:.2f}, "
                     f"ρ {u['calibrated_spearman']:.2f} (n = {u['n_samples']}); ρ of "
                     f"{u['local_window']}×{u['local_window']} local means {u['spearman_local']:.2f}; "
                     f"per-pixel ρ over the whole image, background included, {u['spearman_image']:.2f}")
    return "; ".join(notes)


def format_table(methods: dict, caption: str = "") -> str:
    """A markdown table of mean NMSE / PSNR / SSIM, seconds and NFE per method; then the posterior
    std's Spearman correlation with |error| and its ±2σ coverage (object support), and notes
    (CS: λ used, its source, iterations, last relative objective change)."""
    lines = [f"**{caption}**", ""] if caption else []
    lines += ["| method | NMSE | PSNR (dB) | SSIM | seconds | NFE | ρ(std, \\|err\\|) | ±2σ coverage | notes |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, r in methods.items():
        m = r["mean"]
        u = r.get("uncertainty", {}).get("mean")
        unc = f"{u['spearman']:.2f} | {u['coverage']:.2f}" if u else "– | –"
        lines.append(f"| {name} | {m['nmse']:.4f} | {m['psnr']:.2f} | {m['ssim']:.3f} "
                     f"| {r['seconds']:.2f} | {r['nfe']} | {unc} | {_notes(r)} |")
    return "\n".join(lines)
