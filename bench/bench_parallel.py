"""Data-parallel training throughput of the toy config on 1, 2, 4 and 8 devices.

    python bench/bench_parallel.py                      # virtual CPU devices, toy2d defaults
    python bench/bench_parallel.py --devices 1,2 --batch_size 1024 --chunks 10

Each device count runs in its own subprocess (``JAX_NUM_CPU_DEVICES=n``; on a GPU/TPU host pass
``--platform gpu`` to use the first n real devices instead). The global batch is fixed, so n
devices each get ``batch / n`` rows: this is strong scaling of one training step through the
library's own Trainer (in-graph data, DSM loss, Adam, EMA, ``n_jitted_steps`` per call).
Virtual CPU devices share the machine's cores, so on a small machine the table measures the
cost of sharding (per-device dispatch and the gradient all-reduce), not a speed-up.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker(n: int, batch_size: int, chunks: int) -> dict:
    """Runs inside the subprocess: compile, then time ``chunks`` calls of n_jitted_steps steps."""
    from run import xla_flags
    xla_flags.apply()   # before the first JAX backend starts (run/xla_flags.py)
    import jax

    from configs.toy2d import get_config
    from run import mesh as mesh_lib
    from run.trainer import Trainer

    config = get_config()
    config.training.batch_size = batch_size
    config.parallel.num_devices = n
    tr = Trainer(config, None)
    mesh_lib.check_batch(batch_size, tr.mesh)
    k = int(config.training.n_jitted_steps)
    state = tr.init_state()
    t0 = time.perf_counter()
    state, m = tr.run_steps(state, 0, k)
    jax.block_until_ready(m)
    compile_s = time.perf_counter() - t0
    best = float("inf")
    for c in range(chunks):   # each call's donated state feeds the next, as in train()
        t0 = time.perf_counter()
        state, m = tr.run_steps(state, (c + 1) * k, k)
        jax.block_until_ready(m)
        best = min(best, time.perf_counter() - t0)
    dev = jax.devices()[0]
    return dict(devices=tr.mesh.devices.size, steps_per_s=k / best, compile_s=compile_s,
                kind=f"{dev.platform} ({dev.device_kind})", jax=jax.__version__)


def run_one(n: int, args) -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT)
    if args.platform == "cpu":
        flags = [f for f in env.get("XLA_FLAGS", "").split() if "force_host_platform_device_count" not in f]
        env.update(JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES=str(n), XLA_FLAGS=" ".join(flags))
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", str(n),
           "--batch_size", str(args.batch_size), "--chunks", str(args.chunks)]
    try:
        p = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"{n} devices: timed out after {args.timeout} s") from None
    if p.returncode:
        raise SystemExit(f"{n} devices failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", default="1,2,4,8", help="comma-separated device counts")
    ap.add_argument("--batch_size", type=int, default=512, help="global batch (toy2d default 512)")
    ap.add_argument("--chunks", type=int, default=10, help="timed calls; the best one counts")
    ap.add_argument("--platform", default="cpu", choices=["cpu", "gpu", "tpu"],
                    help="cpu: n virtual CPU devices per run; gpu/tpu: the first n real devices")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per subprocess")
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.batch_size, args.chunks)))
        return

    counts = [int(c) for c in args.devices.split(",")]
    rows = [run_one(n, args) for n in counts]
    base = rows[0]["steps_per_s"]
    print(f"toy2d training (MLP, in-graph data), global batch {args.batch_size}; "
          f"{rows[0]['kind']}, jax {rows[0]['jax']}, {platform.machine()} with {os.cpu_count()} CPU cores\n")
    print("| devices | rows / device | steps/s | samples/s | vs 1st row | compile + 1st call (s) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        n, sps = r["devices"], r["steps_per_s"]
        print(f"| {n} | {args.batch_size // n} | {sps:.1f} | {sps * args.batch_size:,.0f} | "
              f"{sps / base:.2f} | {r['compile_s']:.1f} |")
    if args.platform == "cpu":
        print(f"\nVirtual CPU devices share this machine's {os.cpu_count()} cores: on a 2-core machine "
              f"this table shows the overhead of sharding (dispatch per device, gradient all-reduce), "
              f"not a speed-up. Run with --platform gpu on a multi-GPU host for real scaling.")


if __name__ == "__main__":
    main()
