"""``--mode recon``: MRI reconstruction from undersampled k-space with the trained prior.

    python main.py --config configs/mri/brain_recon.py --workdir runs/brain --mode recon

Steps: load the latest checkpoint's EMA parameters (the prior); build the problem — k-space of
held-out slices simulated from the test split of ``config.data`` (single-coil, or multi-coil
with birdcage maps) or read from a fastMRI file (``recon.fastmri_path``, retrospectively
undersampled); reconstruct with ``recon.method`` (``recon.n_samples`` posterior samples per
slice: their mean is the reconstruction, their std the uncertainty map); reconstruct with the
zero-filled and compressed-sensing baselines; write to ``<workdir>/recon/<name>/``:

- ``images.npz``: ground truth, mask, every method's images, the std map;
- ``metrics.csv`` / ``metrics.json``: NMSE, PSNR, SSIM per slice and their mean, seconds, NFE;
- ``slice_<i>.png``: ground truth, zero-filled, CS, ours, their error maps and the std map.

The pieces (:func:`build_problem`, :func:`run_posterior`, :func:`run_baselines`,
:func:`slice_metrics`, :func:`write_outputs`, :func:`reconstruct_with`) work with any
``score_fn``; ``bench/bench_mri.py`` and the tests use them directly.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import os
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

import datasets
import mri
import samplers
from samplers.posterior import get_posterior_method, posterior_options
from samplers.posterior_ops import PriorView


class ReconConfigError(ValueError):
    """The recon section names something that does not exist or asks for something impossible."""


# --- config -------------------------------------------------------------------------------------

_PRIOR_NAMES = {"auto": "auto", "false": False, "real": False, "true": True, "complex": True, "split": "split"}


def parse_complex_prior(value) -> Any:
    """``recon.complex_prior``: False / True / "split" / "auto" (also "real", "complex", and bool
    strings from the command line)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    key = str(value).strip().lower()
    if key not in _PRIOR_NAMES:
        raise ReconConfigError(f"recon.complex_prior={value!r}; valid: 'auto', 'real' (False), "
                               "'complex' (True), 'split'")
    return _PRIOR_NAMES[key]


def _options(rc) -> dict:
    """The method's options: the ``recon.<method>`` section (num_steps = 0 means the method's own
    default), then ``recon.options`` on top (a free-form dict for programmatic use)."""
    def plain(d):
        d = d.to_dict() if hasattr(d, "to_dict") else dict(d or {})
        return {("lam" if k == "lambda" else k): (tuple(v) if isinstance(v, list) else v) for k, v in d.items()}
    opts = plain(rc.get(rc.method, None))
    if opts.get("num_steps", None) == 0:
        del opts["num_steps"]
    opts.update(plain(rc.get("options", None)))
    return opts


def validate_recon(config) -> None:
    """Check the recon section before any compute or disk access; errors list valid choices."""
    if "recon" not in config:
        raise ReconConfigError("the config has no `recon` section (see configs/mri/brain_recon.py)")
    rc = config.recon
    try:
        get_posterior_method(rc.method)
    except ValueError as e:
        raise ReconConfigError(f"recon.method: {e}") from None
    bad = [k for k in _options(rc) if k not in posterior_options(rc.method)]
    if bad:
        raise ReconConfigError(f"recon.{rc.method} / recon.options {bad} are not options of {rc.method!r}; "
                               f"valid: {posterior_options(rc.method)}")
    if rc.mask.kind not in mri.MASK_KINDS:
        raise ReconConfigError(f"recon.mask.kind={rc.mask.kind!r}; valid: {sorted(mri.MASK_KINDS)}")
    if not float(rc.mask.acceleration) >= 1:
        raise ReconConfigError(f"recon.mask.acceleration must be >= 1; got {rc.mask.acceleration}")
    if rc.cs_method not in mri.CS_METHODS:
        raise ReconConfigError(f"recon.cs_method={rc.cs_method!r}; valid: {sorted(mri.CS_METHODS)}")
    for key in ("num_slices", "n_samples", "slice_batch", "cs_iters", "num_coils"):
        if int(rc[key]) < 1:
            raise ReconConfigError(f"recon.{key} must be >= 1; got {rc[key]}")
    if not float(rc.noise_std) >= 0:
        raise ReconConfigError(f"recon.noise_std must be >= 0; got {rc.noise_std}")
    coil_by_coil = _options(rc).get("multicoil", "sense") == "coil_by_coil"
    prior = _resolve(parse_complex_prior(rc.complex_prior), bool(rc.fastmri_path), coil_by_coil)
    if coil_by_coil and not (rc.multicoil or rc.fastmri_path):
        raise ReconConfigError("recon.options.multicoil='coil_by_coil' needs multi-coil data (recon.multicoil=True "
                               "or a multi-coil fastMRI file)")
    if coil_by_coil and prior is False:
        raise ReconConfigError("coil_by_coil reconstructs complex coil images: set recon.complex_prior to "
                               "'split' (or True for a two-channel prior)")
    if coil_by_coil and config.data.get("centered", False):
        raise ReconConfigError("coil_by_coil needs data.centered=False (coil images have no offset)")
    if int(config.data.get("num_channels", 1)) != (2 if prior is True else 1):
        raise ReconConfigError(f"recon.complex_prior={prior!r} needs data.num_channels="
                               f"{2 if prior is True else 1}; got {config.data.get('num_channels')}")


def run_name(rc) -> str:
    if rc.get("name", ""):
        return str(rc.name)
    acc = float(rc.mask.acceleration)
    acc = f"{acc:g}"
    coils = f"_mc{int(rc.num_coils)}" if rc.multicoil else ""
    return f"{rc.method}_{rc.mask.kind}{acc}x{coils}"


# --- the problem ---------------------------------------------------------------------------------

@dataclasses.dataclass
class Problem:
    """Undersampled k-space of S slices and what is needed to score reconstructions of it.

    gt: [S, H, W] magnitude ground truth (max 1 over the volume). y: [S, ...] measurements on the
    ground truth's scale. operator: the forward model (one mask for all slices). complex_data:
    the images have a phase (fastMRI), so a real prior needs the "split" treatment.
    """
    gt: np.ndarray
    y: jax.Array
    operator: Any
    mask: np.ndarray
    complex_data: bool
    source: str
    slice_ids: list


def _simulated_images(config, num_slices: int) -> tuple[np.ndarray, list]:
    test = datasets.get_dataset(config.data, "test")
    x = np.asarray(datasets.inverse_scaler(config.data)(test.all()), np.float32)
    if x.ndim != 4 or x.shape[-1] != 1:
        raise ReconConfigError(f"simulated k-space needs one-channel images; {config.data.dataset!r} test "
                               f"images have shape {x.shape[1:]}")
    idx = np.unique(np.linspace(0, len(x) - 1, min(num_slices, len(x))).round().astype(int))
    ids = [str(test.ids[i]) if getattr(test, "ids", None) is not None else str(i) for i in idx]
    return x[idx, ..., 0], [f"{config.data.dataset}[{i}] {z}" for i, z in zip(idx, ids)]


def _resize_kspace(kspace: np.ndarray, size: int) -> np.ndarray:
    """Full-resolution centred k-space [..., H, W] -> the central size x size k-space of the image
    cropped to a square field of view (min(H, W)): a low-resolution view of the acquisition."""
    image = np.asarray(mri.ifft2c(kspace))
    side = min(image.shape[-2:])
    image = np.asarray(mri.center_crop(image, (side, side)))
    k = np.asarray(mri.fft2c(image))
    if size > side:
        raise ReconConfigError(f"fastMRI slices of side {side} are smaller than data.image_size={size}")
    return np.asarray(mri.center_crop(k, (size, size)))


def _fastmri_kspace(path: str, num_slices: int, size: int) -> tuple[np.ndarray, list]:
    volume = mri.FastMRIVolume(path)
    if volume.has_mask:
        raise ReconConfigError(f"{path}: a challenge test file (already undersampled, with a mask); "
                               "recon needs fully sampled k-space to undersample retrospectively")
    n = volume.num_slices
    centre = np.arange(n)[max(0, (n - num_slices) // 2):][:num_slices]
    kspace = np.stack([_resize_kspace(volume.slice(int(i))["kspace"], size) for i in centre])
    return kspace, [f"{os.path.basename(path)}[{int(i)}]" for i in centre]


def build_problem(config) -> Problem:
    """The k-space to reconstruct, from ``config.recon`` and ``config.data`` (see module doc)."""
    rc = config.recon
    size = int(config.data.image_size)
    mask = mri.make_mask(rc.mask.kind, (size, size), float(rc.mask.acceleration),
                         float(rc.mask.center_fraction), int(rc.mask.seed))
    rng = np.random.default_rng(int(rc.seed))
    if rc.fastmri_path:
        full, ids = _fastmri_kspace(rc.fastmri_path, int(rc.num_slices), size)
        multicoil = full.ndim == 4
        coil_images = np.asarray(mri.ifft2c(full))
        image = np.asarray(mri.rss(coil_images, axis=1)) if multicoil else coil_images
        scale = float(np.abs(image).max()) or 1.0
        full = full / scale
        gt = np.abs(image) / scale
        if multicoil:
            calib = max(2, int(round(size * float(rc.mask.center_fraction))))
            sens = np.asarray(mri.estimate_sens_maps(full * mask, calib_width=calib))
            # one operator for the volume: the maps of the middle slice
            operator = mri.MulticoilOperator(mask, sens[len(sens) // 2])
        else:
            operator = mri.SinglecoilOperator(mask)
        clean = full * mask
        complex_data, source = True, rc.fastmri_path
    else:
        images, ids = _simulated_images(config, int(rc.num_slices))
        gt = images
        if rc.multicoil:
            operator = mri.MulticoilOperator(mask, mri.birdcage_maps((int(rc.num_coils), size, size)))
        else:
            operator = mri.SinglecoilOperator(mask)
        clean = np.asarray(operator.forward(jnp.asarray(images)))
        complex_data, source = False, f"{config.data.dataset} test split"
    noise = rng.standard_normal(clean.shape) + 1j * rng.standard_normal(clean.shape)
    y = clean + float(rc.noise_std) * noise * np.broadcast_to(mask, clean.shape)
    return Problem(gt=np.asarray(gt, np.float32), y=jnp.asarray(y.astype(np.complex64)), operator=operator,
                   mask=mask, complex_data=complex_data, source=source, slice_ids=ids)


# --- reconstructions --------------------------------------------------------------------------------

def _affine(config_data) -> tuple[float, float]:
    """The data scaler as x_model = a x + b (datasets.scaler is 2x - 1 or the identity)."""
    b = float(datasets.scaler(config_data)(np.zeros(())))
    a = float(datasets.scaler(config_data)(np.ones(()))) - b
    return a, b


def _resolve(prior, complex_data: bool, coil_by_coil: bool):
    """"auto": the real prior as it is for real images, "split" for complex images (fastMRI, or
    the coil images of a coil-by-coil reconstruction)."""
    if prior == "auto":
        return "split" if (complex_data or coil_by_coil) else False
    return prior


def resolve_prior(config, problem: Problem):
    coil_by_coil = _options(config.recon).get("multicoil", "sense") == "coil_by_coil"
    return _resolve(parse_complex_prior(config.recon.complex_prior), problem.complex_data, coil_by_coil)


def run_posterior(problem: Problem, sde, score_fn: Callable, config, rng: jax.Array | None = None) -> dict:
    """Posterior mean (magnitude ``[S, H, W]``), std map, seconds (run) / compile seconds, NFE."""
    rc = config.recon
    a, b = _affine(config.data)
    complex_prior = resolve_prior(config, problem)
    opts = _options(rc)
    if "noise_std" in posterior_options(rc.method):
        opts.setdefault("noise_std", a * float(rc.noise_std))
    n = int(rc.n_samples)
    rng = jax.random.PRNGKey(int(rc.seed)) if rng is None else rng
    op = problem.operator
    view = PriorView(op, problem.y[:1], complex_prior)
    offset = view.to_image(jnp.full(view.prior_shape, b, jnp.float32))   # the image of x_model = b
    y_model = a * problem.y + op.forward(offset)
    coil_by_coil = opts.get("multicoil", "sense") == "coil_by_coil"

    def fn(rng, y):
        mean, std, nfe = samplers.posterior_mean_std(rng, sde, score_fn, op, y, n, rc.method,
                                                     complex_prior, **opts)
        if coil_by_coil:   # already a (model-scale) magnitude image
            return mean[..., 0] / a, std[..., 0] / a, nfe
        x = (mean - b) / a
        image = jnp.abs(samplers.to_complex(x)) if x.shape[-1] in (1, 2) else x[..., 0]
        return image, jnp.sqrt(jnp.sum(std**2, axis=-1)) / a, nfe

    batch = max(1, min(int(rc.slice_batch), len(problem.gt)))
    jitted = jax.jit(fn)
    images, stds, run_s, compile_s, nfe = [], [], 0.0, 0.0, 0
    for start in range(0, len(problem.gt), batch):
        y = y_model[start:start + batch]
        key = jax.random.fold_in(rng, start)
        t0 = time.perf_counter()
        compiled = jitted.lower(key, y).compile()
        t1 = time.perf_counter()
        image, std, k = jax.block_until_ready(compiled(key, y))
        t2 = time.perf_counter()
        compile_s += t1 - t0
        run_s += t2 - t1
        images.append(np.asarray(image))
        stds.append(np.asarray(std))
        nfe = int(k)
    return dict(image=np.concatenate(images), std=np.concatenate(stds), seconds=run_s,
                compile_seconds=compile_s, nfe=nfe, complex_prior=str(complex_prior))


def run_baselines(problem: Problem, config) -> dict:
    """Zero-filled ``|A^H y|`` and compressed sensing (``recon.cs_method``), magnitudes ``[S, H, W]``."""
    rc = config.recon
    op = problem.operator
    out = {}
    lam = float(rc.get("cs_lam", 0.0)) or None
    for name, fn in (("zero_filled", lambda y: mri.zero_filled(op, y)),
                     ("cs_" + rc.cs_method, lambda y: jnp.abs(mri.cs_reconstruct(op, y, rc.cs_method, lam,
                                                                                 int(rc.cs_iters))))):
        jitted = jax.jit(fn)
        t0 = time.perf_counter()
        compiled = jitted.lower(problem.y).compile()
        t1 = time.perf_counter()
        image = np.asarray(jax.block_until_ready(compiled(problem.y)))
        out[name] = dict(image=image, seconds=time.perf_counter() - t1, compile_seconds=t1 - t0, nfe=0)
    return out


def slice_metrics(gt: np.ndarray, image: np.ndarray) -> list[dict]:
    """NMSE, PSNR, SSIM of each slice; PSNR / SSIM data range = the volume's max (fastMRI's rule)."""
    data_range = float(gt.max())
    side = min(gt.shape[-2:])
    win = 7 if side >= 7 else max(3, side - (1 - side % 2))
    return [dict(nmse=mri.nmse(g, p), psnr=mri.psnr(g, p, data_range),
                 ssim=mri.ssim(g, p, data_range, win_size=win)) for g, p in zip(gt, image)]


def summarize(per_slice: list[dict]) -> dict:
    return {k: float(np.mean([m[k] for m in per_slice])) for k in ("nmse", "psnr", "ssim")}


def fit_gaussian_prior(config, n: int = 4000, seed: int = 0, nugget: float = 1e-3):
    """A Gaussian prior fitted to ``n`` training images of ``config.data`` in model space
    (``sde_lib.GaussianMixture``): a stand-in for a trained network in tests and benchmarks, whose
    exact score needs no training. ``nugget`` is added to the covariance's diagonal."""
    import sde_lib
    train = datasets.get_dataset(config.data, "train")
    x = np.concatenate([np.asarray(train.batch(jax.random.PRNGKey(seed + i), min(n - 500 * i, 500)))
                        for i in range(-(-n // 500))]).reshape(n, -1).astype(np.float64)
    mean = x.mean(0)
    cov = np.cov(x, rowvar=False) + nugget * np.eye(x.shape[1])
    return sde_lib.GaussianMixture.gaussian(mean, cov)


# --- outputs ----------------------------------------------------------------------------------------

def _figure(path: str, gt, images: dict, std, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(images)
    cols = max(len(names) + 1, 4)
    fig, axes = plt.subplots(2, cols, figsize=(2.4 * cols, 5.0))
    vmax = float(gt.max()) or 1.0
    err_max = max(float(np.abs(images[n] - gt).max()) for n in names) or 1.0
    axes[0, 0].imshow(gt, cmap="gray", vmin=0, vmax=vmax)
    axes[0, 0].set_title("ground truth")
    for j, name in enumerate(names, start=1):
        axes[0, j].imshow(images[name], cmap="gray", vmin=0, vmax=vmax)
        axes[0, j].set_title(f"{name}\nPSNR {mri.psnr(gt, images[name], vmax):.1f}", fontsize=8)
        axes[1, j].imshow(np.abs(images[name] - gt), cmap="magma", vmin=0, vmax=err_max)
        axes[1, j].set_title(f"|error| {name}", fontsize=8)
    axes[1, 0].imshow(std, cmap="viridis")
    axes[1, 0].set_title("posterior std", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[0, len(names) + 1:]:
        ax.axis("off")
    for ax in axes[1, len(names) + 1:]:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_outputs(out_dir: str, problem: Problem, results: dict, method: str, meta: dict,
                  figures: bool = True) -> dict:
    """images.npz, metrics.csv, metrics.json and one PNG per slice; returns the JSON summary."""
    os.makedirs(out_dir, exist_ok=True)
    arrays = {"ground_truth": problem.gt, "mask": problem.mask, "std": results[method]["std"]}
    arrays.update({f"recon_{name}": r["image"] for name, r in results.items()})
    np.savez(os.path.join(out_dir, "images.npz"), **arrays)
    summary = {"meta": meta, "methods": {}}
    rows = []
    for name, r in results.items():
        per = slice_metrics(problem.gt, r["image"])
        mean = summarize(per)
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
            _figure(os.path.join(out_dir, f"slice_{i:02d}.png"), problem.gt[i],
                    {n: results[n]["image"][i] for n in order}, results[method]["std"][i],
                    f"{problem.slice_ids[i]} - {meta['mask']}")
    return summary


def reconstruct_with(config, sde, score_fn: Callable, out_dir: str | None = None) -> dict:
    """Everything after loading the prior: problem, ours, baselines, metrics, files (if out_dir)."""
    validate_recon(config)
    rc = config.recon
    problem = build_problem(config)
    results = run_baselines(problem, config)
    results[rc.method] = run_posterior(problem, sde, score_fn, config)
    meta = dict(method=rc.method, options={k: str(v) for k, v in _options(rc).items()},
                complex_prior=results[rc.method]["complex_prior"], source=problem.source,
                slices=problem.slice_ids, noise_std=float(rc.noise_std), n_samples=int(rc.n_samples),
                mask=f"{rc.mask.kind} {float(rc.mask.acceleration):g}x (achieved "
                     f"{mri.mask_acceleration(problem.mask):.2f}x), centre {float(rc.mask.center_fraction):g}",
                operator=type(problem.operator).__name__)
    if out_dir is None:
        return {name: dict(mean=summarize(slice_metrics(problem.gt, r["image"])), seconds=r["seconds"],
                           nfe=r["nfe"]) for name, r in results.items()}
    return write_outputs(out_dir, problem, results, rc.method, meta, bool(rc.get("figures", True)))


def reconstruct(config, workdir: str) -> dict:
    """``--mode recon``: reconstruct with the latest EMA checkpoint in ``workdir``; writes
    ``<workdir>/recon/<name>/`` and returns the metrics summary (also printed as a table)."""
    validate_recon(config)
    from run.sample import load_trainer_state
    tr, state = load_trainer_state(config, workdir)
    score_fn = tr.builder(state.ema_params)
    out_dir = os.path.join(tr.workdir, "recon", run_name(config.recon))
    summary = reconstruct_with(config, tr.sde, score_fn, out_dir if jax.process_index() == 0 else None)
    if jax.process_index() == 0:
        print(format_table(summary["methods"], f"{summary['meta']['mask']}, {len(summary['meta']['slices'])} slices"))
        print(f"wrote {out_dir}/ (images.npz, metrics.csv, metrics.json, slice_*.png)")
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
