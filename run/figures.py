"""The figures the DDPM / SDE theory is explained with, as PNGs plus the values they plot.

    paths = write_figures(config, out_dir)   # schedules.png, forward_strip.png, snr.png (+ .npz)

- ``schedules.png``: the chain's β_t, the mean coefficient sqrt(ᾱ(t)) and the variance 1 - ᾱ(t)
  against t for the linear and the cosine schedule (at the config's N and β range);
- ``forward_strip.png``: one embedded image x_0 → x_T under the config's SDE at evenly spaced t,
  x_t = mean_t(x_0) + std_t z with one fixed z (so the strip shows noise growing, not changing);
- ``snr.png``: SNR(t) = alpha_t² / sigma_t² (log scale) for VP, sub-VP, VE and cosine VP.

Each function returns the arrays it plotted and writes them beside the PNG as ``<name>.npz``,
so a test can check them against ``sde.marginal_prob``. The lead's ``--mode figures`` calls
``write_figures(config, os.path.join(workdir, "figures"))``.
"""
from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import matplotlib
import ml_collections
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import datasets  # noqa: E402
import sde_lib  # noqa: E402
from run import builders  # noqa: E402


def _save(fig, path: str, values: dict) -> dict:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    np.savez(os.path.splitext(path)[0] + ".npz", **values)
    return values


def _coeffs(sde: sde_lib.SDE, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean coefficient, std) ``[n]`` read off ``sde.marginal_prob`` (the figures' ground truth)."""
    tj = jnp.asarray(t, jnp.float32)
    mean, std = sde.marginal_prob(jnp.ones((t.shape[0], 1), jnp.float32), tj)
    return np.asarray(mean[:, 0]), np.asarray(std)


def plot_schedules(sdes: dict, path: str, num: int = 201) -> dict:
    """β_t of each chain (against t = i / N) and sqrt(ᾱ(t)), 1 - ᾱ(t) of each VP-type SDE.

    ``sdes``: name -> SDE with a ``chain`` (VPSDE, CosineVPSDE). Values: ``t [num]`` and per
    name ``<name>_beta [N]`` at ``<name>_beta_t [N]``, ``<name>_mean_coeff``, ``<name>_variance``.
    """
    values = {}
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for name, sde in sdes.items():
        t = np.linspace(0.0, sde.T, num)
        mean_coeff, std = _coeffs(sde, t)
        steps = np.arange(1, sde.chain.num_steps + 1) / sde.chain.num_steps * sde.T
        values.update({"t": t, f"{name}_beta": np.asarray(sde.chain.betas), f"{name}_beta_t": steps,
                       f"{name}_mean_coeff": mean_coeff, f"{name}_variance": std**2})
        axes[0].plot(steps, np.asarray(sde.chain.betas), label=name)
        axes[1].plot(t, mean_coeff, label=name)
        axes[2].plot(t, std**2, label=name)
    axes[0].set_yscale("log")
    for ax, title in zip(axes, ("β_t of the chain (log scale)", "mean coefficient √ᾱ(t)", "variance 1 − ᾱ(t)")):
        ax.set_title(title)
        ax.set_xlabel("t")
        ax.legend()
    return _save(fig, path, values)


def forward_strip(sde: sde_lib.SDE, image: np.ndarray, path: str, num: int = 8, seed: int = 0,
                  to_unit=lambda x: x) -> dict:
    """One image ``[H, W, C]`` (model space) at ``num`` times evenly spaced on [0, T].

    ``to_unit`` maps model space to [0, 1] for display (values outside are clipped: for VE the
    late panels saturate, which is what a σ of 50 looks like). Values: ``t [num]``,
    ``noise [H, W, C]``, ``x [num, H, W, C]`` with x[k] = mean(t_k) + std(t_k) · noise.
    """
    image = np.asarray(image, np.float32)
    t = np.linspace(0.0, sde.T, num)
    noise = np.asarray(jax.random.normal(jax.random.PRNGKey(seed), image.shape), np.float32)
    mean, std = sde.marginal_prob(jnp.broadcast_to(jnp.asarray(image), (num,) + image.shape),
                                  jnp.asarray(t, jnp.float32))
    x = np.asarray(mean) + np.asarray(std).reshape((num,) + (1,) * image.ndim) * noise
    fig, axes = plt.subplots(1, num, figsize=(1.6 * num, 1.9))
    for k, ax in enumerate(axes):
        shown = np.clip(np.asarray(to_unit(x[k])), 0.0, 1.0)
        ax.imshow(shown[..., 0] if shown.shape[-1] == 1 else shown, cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"t = {t[k]:.2f}", fontsize=9)
        ax.axis("off")
    return _save(fig, path, {"t": t, "noise": noise, "x": x})


def plot_snr(sdes: dict, path: str, num: int = 200, t_min: float = 1e-3) -> dict:
    """SNR(t) = alpha_t² / sigma_t² on [t_min, T] (log scale). Values: ``t``, ``<name>_snr``."""
    values = {}
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, sde in sdes.items():
        t = np.linspace(t_min, sde.T, num)
        mean_coeff, std = _coeffs(sde, t)
        values.update({"t": t, f"{name}_snr": mean_coeff**2 / std**2})
        ax.plot(t, values[f"{name}_snr"], label=name)
    ax.set_yscale("log")
    ax.set_xlabel("t")
    ax.set_title("signal-to-noise ratio α_t² / σ_t²")
    ax.legend()
    return _save(fig, path, values)


def embedded_image(config) -> tuple[np.ndarray, callable]:
    """One image of the config's dataset in model space, and the map back to [0, 1]; for 2-D
    toy data the first scikit-learn digit at 32 px in [-1, 1] (the embedded image source)."""
    data = config.data
    if data.dataset in datasets.TOY_NAMES:
        data = ml_collections.ConfigDict({"dataset": "digits", "image_size": 32, "num_channels": 1,
                                          "centered": True})
    ds = datasets.get_dataset(data, "train")
    image = np.asarray(ds.batch(jax.random.PRNGKey(0), 1)[0] if ds.num_examples is None else ds.all()[0])
    return image, datasets.inverse_scaler(data)


def write_figures(config, out_dir: str) -> list[str]:
    """The three figures for ``config`` into ``out_dir`` (created); returns the PNG paths."""
    os.makedirs(out_dir, exist_ok=True)
    m = config.model
    n = int(m.num_scales)
    vp = sde_lib.VPSDE(m.beta_min, m.beta_max, n)
    cosine = sde_lib.CosineVPSDE(N=n)
    paths = [os.path.join(out_dir, name) for name in ("schedules.png", "forward_strip.png", "snr.png")]
    plot_schedules({"linear": vp, "cosine": cosine}, paths[0])
    image, to_unit = embedded_image(config)
    forward_strip(builders.build_sde(config), image, paths[1], to_unit=to_unit)
    plot_snr({"vp": vp, "subvp": sde_lib.subVPSDE(m.beta_min, m.beta_max, n),
              "ve": sde_lib.VESDE(m.sigma_min, m.sigma_max, n), "cosine vp": cosine}, paths[2])
    return paths


def figures(config, workdir: str, overwrite: bool = False) -> list[str]:
    """``--mode figures``: :func:`write_figures` into ``<workdir>/figures/`` (no checkpoint needed).

    The folder is written whole or not at all (``run.files.atomic_dir``); an existing one is
    refused unless ``overwrite``."""
    from run import files
    from run.context import start_run
    start_run(config)
    out = os.path.join(builders.prepare_workdir(workdir), "figures")
    with files.atomic_dir(out, overwrite) as tmp:
        names = [os.path.basename(p) for p in write_figures(config, tmp)]
    paths = [os.path.join(out, n) for n in names]
    for p in paths:
        print(f"wrote {p}")
    return paths
