"""The accelerator check of issues 11 and 12, prepared as one script for a lent GPU.

    python bench/bench_gpu.py [--out DIR] [--budget_s 420] [--parts unet,samplers,mri] [--quick]

How to run it on the `device` tool's machine (no network there; its image has JAX with CUDA,
Flax, Optax and Orbax, but not every package of ours): `bench/device_wheels.sh` downloads the
missing ones as wheels into `.whl/` here (ignored by git); the device command then is

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site &&
    PYTHONUNBUFFERED=1 timeout 540 python3 bench/bench_gpu.py --out $OUT

with ``carry: [".whl"]`` (README › Benchmarks › On a GPU).

Parts, in this order (each prints its markdown table as soon as it is done and rewrites
``DIR/bench_gpu.json``; a part is skipped, and says so, once ``--budget_s`` seconds have passed,
so a time limit costs the parts not yet run, never the printed ones):

- ``unet`` (issue 12): score_sde's NCSN++ CIFAR-10 config (VE, nf 128, ch_mult (1, 2, 2, 2),
  4 res blocks, attention at 16, FIR; 62.8 M parameters), batch 128, random 32×32×3 images
  (the compute does not depend on the pixels, and CIFAR-10 cannot be downloaded there): jitted
  forward, a bare forward + backward + Adam (float32 only), the library's train step (DSM, Adam,
  clipping, EMA); ms, images/s, compile seconds, XLA's memory estimate and the device's
  peak; float32 and bfloat16 compute (``model.dtype``; the relative difference of the two
  forwards' scores).
- ``samplers``: PC (Euler–Maruyama + Langevin corrector, 50 noise levels = 100 NFE) at batch
  128, time per NFE ÷ one forward; DPM-Solver++(2M) 20 steps for 64 images, wall seconds.
- ``mri`` (issue 11): ``bench/bench_mri_fullsize.py`` with the shipped 128 px brain prior at 128
  and 320 px, 15 coils, equispaced 4×, DDS 50 NFE, slice batches 1 and 8 (seconds per slice,
  memory, PSNR), and bfloat16 vs float32 at 128 px.

``--quick``: tiny sizes of everything, for a smoke run on a CPU (tests/test_bench_gpu.py).
score_sde's README: 0.20–0.30 s per training step on 4 × V100 at batch 128 for JAX.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from run import host_memory, xla_flags  # noqa: E402

host_memory.apply(__name__)   # a script may restart once, with huge pages for malloc (run/host_memory.py)
xla_flags.apply()   # before the first JAX backend starts (on CPU only; run/xla_flags.py)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import samplers  # noqa: E402
from bench.timing import bare_train_step, best_interleaved, compiled_mib, machine  # noqa: E402
from configs.ve.ncsnpp_cifar10_continuous import get_config  # noqa: E402
from run.trainer import Trainer  # noqa: E402

PARTS = ("unet", "samplers", "mri")


def write_images(folder: str, n: int, size: int, seed: int = 0) -> None:
    """``n`` random RGB PNGs: a stand-in dataset with CIFAR-10's shape (what the step computes does
    not depend on the pixel values)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), np.uint8)).save(os.path.join(folder, f"{i:03d}.png"))


def unet_config(folder: str, quick: bool, dtype: str = "float32"):
    c = get_config()
    c.data.dataset, c.data.root = "image_folder", folder
    c.data.random_flip = False
    c.model.dtype = dtype
    if quick:
        c.data.image_size = c.model.image_size = 16
        # one level, no attention: the smallest NCSN++ that still runs every code path here
        c.model.nf, c.model.ch_mult, c.model.num_res_blocks, c.model.attn_resolutions = 8, (1,), 1, ()
        c.training.batch_size = 4
    return c


def peak_mib() -> float:
    """The device's peak allocation so far (MiB), where the backend reports it (GPU, TPU); NaN on
    CPU, which has no allocator statistics."""
    stats = jax.devices()[0].memory_stats() or {}
    return stats.get("peak_bytes_in_use", float("nan")) / 2**20


def compile_timed(fn, *args):
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return compiled, time.perf_counter() - t0


def unet_rows(config, repeats: int, bare: bool = True) -> dict:
    """Forward, bare fwd+bwd+Adam (``bare``) and the library's train step of ``config``'s network."""
    tr = Trainer(config, None)
    state = tr.init_state()
    bs = int(config.training.batch_size)
    x = jnp.asarray(tr.dataset.batch(jax.random.PRNGKey(0), bs))
    labels = jnp.linspace(0.1, 1.0, bs) * float(config.model.sigma_max)
    # labels as an argument: a constant would let XLA fold the time embedding away
    fwd, c_fwd = compile_timed(lambda p, x, l: tr.model.apply(p, x, l), state.params, x, labels)
    opt = tr.optimizer
    step, c_step = compile_timed(tr.train_step, state, x, jax.random.PRNGKey(1))
    calls = [(fwd, (state.params, x, labels), 1), (lambda s: step(s, x, jax.random.PRNGKey(1))[0], (state,), 1)]
    c_bare = float("nan")
    if bare:   # the baseline of the step ÷ bare target: the float32 row only, one compile fewer
        bare_c, c_bare = compile_timed(bare_train_step(tr.model, opt, x), state.params, opt.init(state.params), labels)
        calls.append((bare_c, (state.params, opt.init(state.params), labels), 1))
    t_fwd, t_step, *t_bare = best_interleaved(calls, rounds=repeats)
    t_bare = t_bare[0] if t_bare else float("nan")
    # The released config zero-initialises the output layer (init_scale 0), so compare float32
    # and bfloat16 on parameters moved off zero, the same for both (same key, same shapes).
    leaves, tree = jax.tree.flatten(state.params)
    keys = jax.random.split(jax.random.PRNGKey(7), len(leaves))
    moved = jax.tree.unflatten(tree, [a + 0.02 * jax.random.normal(k, a.shape, a.dtype) for a, k in zip(leaves, keys)])
    out = jnp.asarray(fwd(moved, x, labels), jnp.float32)
    return dict(batch=bs, forward_ms=t_fwd * 1e3, bare_ms=t_bare * 1e3, step_ms=t_step * 1e3,
                step_over_bare=t_step / t_bare, images_per_s=bs / t_step,
                compile_s=dict(forward=c_fwd, bare=c_bare, step=c_step),
                estimate_mib=compiled_mib(step), peak_mib=peak_mib(),
                params=int(sum(a.size for a in jax.tree.leaves(state.params))),
                _trainer=tr, _state=state, _out=out)


def part_unet(args, folder: str, results: dict) -> None:
    rows = {}
    for dtype in ("float32", "bfloat16"):
        rows[dtype] = unet_rows(unet_config(folder, args.quick, dtype), args.repeats, bare=dtype == "float32")
    a, b = rows["float32"].pop("_out"), rows["bfloat16"].pop("_out")
    rel = float(jnp.linalg.norm(a - b) / jnp.linalg.norm(a))
    results["unet_f32_trainer"] = rows["float32"].pop("_trainer"), rows["float32"].pop("_state")
    for r in rows.values():
        r.pop("_trainer", None), r.pop("_state", None)
    results["unet"] = dict(rows, bf16_relative_score_difference=rel)
    r32 = rows["float32"]
    print(f"\nNCSN++ CIFAR-10 config ({r32['params']:,} parameters), batch {r32['batch']}:\n")
    print("| compute | forward ms | bare fwd+bwd+Adam ms | train step ms | step ÷ bare | images / s "
          "| compile s (fwd / bare / step) | XLA estimate MiB | device peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for dtype, r in rows.items():
        c = r["compile_s"]
        print(f"| {dtype} | {r['forward_ms']:.1f} | {r['bare_ms']:.1f} | {r['step_ms']:.1f} | "
              f"{r['step_over_bare']:.3f} | {r['images_per_s']:.0f} | {c['forward']:.0f} / {c['bare']:.0f} / "
              f"{c['step']:.0f} | {r['estimate_mib']:.0f} | {r['peak_mib']:.0f} |")
    print(f"\nbfloat16 forward vs float32: relative L2 difference of the scores {rel:.2e}")


def part_samplers(args, folder: str, results: dict) -> None:
    if "unet_f32_trainer" in results:
        tr, state = results["unet_f32_trainer"]
    else:
        tr = Trainer(unet_config(folder, args.quick), None)
        state = tr.init_state()
    params, score_fn = state.params, tr.builder
    bs = int(tr.config.training.batch_size)
    shape = (bs, *tr.shape)
    x = jnp.asarray(tr.dataset.batch(jax.random.PRNGKey(0), bs))
    labels = jnp.full((bs,), 1.0)
    fwd, _ = compile_timed(lambda p, x, l: tr.model.apply(p, x, l), params, x, labels)
    levels = 3 if args.quick else 50
    pc = dict(predictor="euler_maruyama", corrector="langevin", snr=0.16, n_steps=1, num_steps=levels)
    pc_c, c_pc = compile_timed(lambda p, k: samplers.sample(k, tr.sde, score_fn(p), shape, **pc), params,
                               jax.random.PRNGKey(1))
    n_dpm, dpm_batch = (2, 2) if args.quick else (20, 64)
    dpm_shape = (dpm_batch, *tr.shape)
    dpm_c, c_dpm = compile_timed(lambda p, k: samplers.sample(k, tr.sde, score_fn(p), dpm_shape,
                                                              method="dpm_solver_pp", num_steps=n_dpm),
                                 params, jax.random.PRNGKey(1))
    nfe = int(pc_c(params, jax.random.PRNGKey(1))[1])
    t_fwd, t_pc, t_dpm = best_interleaved([(fwd, (params, x, labels), 5), (pc_c, (params, jax.random.PRNGKey(1)), 1),
                                           (dpm_c, (params, jax.random.PRNGKey(1)), 1)], rounds=args.repeats)
    results["samplers"] = dict(forward_ms=t_fwd * 1e3, pc_nfe=nfe, pc_s=t_pc,
                               pc_per_nfe_over_forward=t_pc / nfe / t_fwd,
                               pc_compile_s=c_pc, dpm_steps=n_dpm, dpm_images=dpm_batch, dpm_s=t_dpm,
                               dpm_compile_s=c_dpm)
    print(f"\n| sampler (NCSN++ CIFAR-10 config, float32) | images | NFE | wall s | per NFE ÷ one forward "
          f"({t_fwd * 1e3:.1f} ms at batch {bs}) | compile s |")
    print("|---|---|---|---|---|---|")
    print(f"| PC Euler–Maruyama + Langevin | {bs} | {nfe} | {t_pc:.2f} | {t_pc / nfe / t_fwd:.3f} | {c_pc:.0f} |")
    print(f"| DPM-Solver++(2M), {n_dpm} steps | {dpm_batch} | {n_dpm} | {t_dpm:.3f} | – | {c_dpm:.0f} |")


def part_mri(args, folder: str, results: dict) -> None:
    from bench import bench_mri_fullsize

    argv = (["--sizes", "32", "--batches", "1", "--coils", "2", "--steps", "3"] if args.quick
            else ["--sizes", "128,320", "--batches", "1,8", "--coils", "15", "--steps", "50"])
    t0 = time.perf_counter()
    bench_mri_fullsize.main(argv)
    results["mri"] = dict(argv=argv, seconds=time.perf_counter() - t0, peak_mib=peak_mib())


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="", help="folder for bench_gpu.json (default: none written)")
    p.add_argument("--budget_s", type=float, default=420.0,
                   help="start no part after this many seconds (the parts run in the order of --parts)")
    p.add_argument("--parts", default=",".join(PARTS))
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run on a CPU")
    args = p.parse_args(argv)
    parts = [s for s in args.parts.split(",") if s]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise SystemExit(f"unknown parts {unknown}; valid: {list(PARTS)}")
    start = time.perf_counter()
    print(f"machine: {machine()}; devices: {jax.devices()}", flush=True)
    results: dict = {"machine": machine(), "device_kind": jax.devices()[0].device_kind, "skipped": []}
    run = {"unet": part_unet, "samplers": part_samplers, "mri": part_mri}
    with tempfile.TemporaryDirectory() as folder:
        write_images(folder, 8 if args.quick else 256, 16 if args.quick else 32)
        for name in parts:
            elapsed = time.perf_counter() - start
            if elapsed > args.budget_s:
                print(f"\n(part {name} skipped: {elapsed:.0f} s > --budget_s {args.budget_s:.0f})", flush=True)
                results["skipped"].append(name)
                continue
            t0 = time.perf_counter()
            run[name](args, folder, results)
            print(f"(part {name}: {time.perf_counter() - t0:.0f} s)", flush=True)
            save(results, args.out)
    results.pop("unet_f32_trainer", None)
    save(results, args.out)
    return results


def save(results: dict, out: str) -> None:
    if not out:
        return
    os.makedirs(out, exist_ok=True)
    def plain(v):   # strict JSON: NaN (no allocator statistics on CPU) as null
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return None if isinstance(v, float) and v != v else v
    clean = plain({k: v for k, v in results.items() if k != "unet_f32_trainer"})
    with open(os.path.join(out, "bench_gpu.json"), "w") as f:
        json.dump(clean, f, indent=1, allow_nan=False)


if __name__ == "__main__":
    main()
