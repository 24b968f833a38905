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
    summary = {"meta": meta, "methods": {}}
    rows = []
    for name, r in results.items():
        per = mri.slice_metrics(problem.gt, r["image"])
        mean = mri.mean_metrics(per)
        summary["methods"][name] = dict(mean=mean, per_slice=per, seconds=r["seconds"],
                                        compile_seconds=r["compile_seconds"], nfe=r["nfe"])
        for i, m in enumerate(per):
            rows.append(dict(method=name, slice=i, **m, seconds=r["seconds"], nfe=r["nfe"]))
        rows.append(dict(method=name, slice="mean", **mean, seconds=r["seconds"], nfe=r["nfe"]))
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


def format_table(methods: dict, caption: str = "") -> str:
    """A markdown table of mean NMSE / PSNR / SSIM, seconds and NFE per method."""
    lines = [f"**{caption}**", ""] if caption else []
    lines += ["| method | NMSE | PSNR (dB) | SSIM | seconds | NFE |", "|---|---|---|---|---|---|"]
    for name, r in methods.items():
        m = r["mean"]
        lines.append(f"| {name} | {m['nmse']:.4f} | {m['psnr']:.2f} | {m['ssim']:.3f} "
                     f"| {r['seconds']:.2f} | {r['nfe']} |")
    return "\n".join(lines)
