"""Soak test of preemption: train configs/toy2d.py for 20 000 steps while SIGTERM arrives at
random steps (>= 10 times), restarting the same command each time; then compare the final
parameters with an uninterrupted run's, bit for bit.

    python bench/soak_preemption.py                     # 20 000 steps, 12 interruptions
    python bench/soak_preemption.py --steps 5000 --kills 10 --seed 1 --workdir /tmp/soak

Each interruption must exit 0 with a checkpoint at or after the step the signal was sent at;
the table lists, per interruption, that step, the step saved and the seconds from SIGTERM to
the process's exit. A script, not a test: it takes minutes.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def flags(steps: int, jitted: int) -> list[str]:
    # The toy config's own MLP; a long compiled chunk so the host loop is not the bottleneck.
    return [f"--config.training.n_iters={steps}", f"--config.training.n_jitted_steps={jitted}",
            "--config.training.log_freq=100", "--config.training.snapshot_freq=2000"]


def command(workdir: str, extra: list[str]) -> list[str]:
    return [sys.executable, "main.py", "--config", "configs/toy2d.py", "--workdir", workdir, "--mode", "train", *extra]


def logged(workdir: str) -> list[int]:
    """The steps in metrics.jsonl so far (complete lines only)."""
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line)["step"] for line in f if line.endswith("\n")]


def latest_checkpoint(workdir: str) -> int:
    d = os.path.join(workdir, "checkpoints")
    return max([int(n) for n in os.listdir(d) if n.isdigit()] or [0]) if os.path.isdir(d) else 0


def final_state(workdir: str, step: int):
    from configs.toy2d import get_config
    from run import builders
    from run.checkpoint import Checkpointer
    from run.context import RunContext
    config = get_config()
    ck = Checkpointer(workdir, read_only=True)
    try:
        return ck.restore(RunContext(config).abstract_state(builders.build_optimizer(config)), step)
    finally:
        ck.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--kills", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jitted", type=int, default=100, help="training.n_jitted_steps")
    ap.add_argument("--workdir", default=None, help="parent folder (default: a new temporary one, deleted after)")
    args = ap.parse_args()
    if args.kills < 1 or args.steps < 200 * (args.kills + 1):
        ap.error("need --kills >= 1 and --steps >= 200 * (kills + 1)")
    parent = args.workdir or tempfile.mkdtemp(prefix="soak_")
    soak, ref = os.path.join(parent, "soak"), os.path.join(parent, "uninterrupted")
    for d in (soak, ref):
        shutil.rmtree(d, ignore_errors=True)
    extra = flags(args.steps, args.jitted)
    rng = np.random.default_rng(args.seed)
    # Distinct targets at least 200 steps apart, away from both ends. A run resumed past the
    # next target is still signalled, as soon as it has logged its first step.
    grid = np.arange(200, args.steps - 200, 100)
    while True:
        targets = np.sort(rng.choice(grid, args.kills, replace=False))
        if np.all(np.diff(targets) >= 200):
            break

    t0 = time.time()
    subprocess.run(command(ref, extra), cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ref_seconds = time.time() - t0

    rows, failures = [], []
    t0 = time.time()
    for target in targets:
        log = open(os.path.join(parent, "soak.stderr"), "a")
        before = len(logged(soak))
        proc = subprocess.Popen(command(soak, extra), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
        # Signal once this run has logged a step >= target: it is training, not starting up.
        while proc.poll() is None and not [s for s in logged(soak)[before:] if s >= target]:
            time.sleep(0.005)
        if proc.poll() is not None:
            failures.append(f"run exited ({proc.returncode}) before step {target}")
            break
        sent_at = logged(soak)[-1]
        t_sig = time.time()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=300)
        exit_s = time.time() - t_sig
        saved = latest_checkpoint(soak)
        rows.append((int(target), sent_at, saved, rc, exit_s))
        if rc != 0 or saved < sent_at:
            failures.append(f"SIGTERM at step {sent_at}: exit code {rc}, newest checkpoint {saved}")
    subprocess.run(command(soak, extra), cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    soak_seconds = time.time() - t0

    a, b = final_state(ref, args.steps), final_state(soak, args.steps)
    import jax
    diffs = [float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)))) if np.size(x) else 0.0
             for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))]
    identical = all(np.array_equal(np.asarray(x), np.asarray(y))
                    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

    print(f"soak: configs/toy2d.py, {args.steps} steps, n_jitted_steps={args.jitted}, {len(rows)} SIGTERMs "
          f"(seed {args.seed}); {platform.node()}, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")
    print("| # | signal sent at step | checkpoint saved at | exit code | SIGTERM -> exit (s) |")
    print("|---|---|---|---|---|")
    for i, (target, sent, saved, rc, s) in enumerate(rows, 1):
        print(f"| {i} | {sent} | {saved} | {rc} | {s:.2f} |")
    exits = np.array([r[4] for r in rows])
    print(f"\nSIGTERM -> exit: median {np.median(exits):.2f} s, max {exits.max():.2f} s; uninterrupted run "
          f"{ref_seconds:.0f} s, interrupted runs together {soak_seconds:.0f} s ({len(rows) + 1} starts)")
    print(f"final step {int(b.step)} vs {int(a.step)}; {len(diffs)} arrays (params, EMA, optimizer state), "
          f"max |difference| {max(diffs):.3g}")
    ok = identical and not failures and int(a.step) == int(b.step) == args.steps
    print("VERDICT: PASS - every interruption exited 0 with a checkpoint and the final state is bit-identical"
          if ok else "VERDICT: FAIL - " + "; ".join(failures or ["final states differ"]))
    if args.workdir is None:
        shutil.rmtree(parent, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
