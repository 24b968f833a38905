"""One code path from one CPU to a pod: the same steps on 8 devices, on 2 processes and on 1
device reach the same parameters; a user's own pmap around the library's loss agrees too.

Devices are virtual CPU devices (``JAX_NUM_CPU_DEVICES``), so every check runs in a fresh
subprocess of this file (``python tests/test_parallel.py <worker> ...``), bounded by a timeout.
The workers and the tests that start them stay in one file (over 300 lines) so each test reads
beside the code it runs.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.abspath(__file__)
ROOT = os.path.dirname(os.path.dirname(HERE))
STEPS, CHUNK, BATCH = 20, 10, 64
# Same steps, different reduction order (all-reduce of 8 partial sums vs one sum): float noise.
RTOL, ATOL = 2e-4, 2e-6


def collectives(hlo: str) -> set:
    return set(re.findall(r"\b(all-reduce|all-gather|reduce-scatter|collective-permute|all-to-all)\(", hlo))


def tiny_config(num_devices: int = 0, batch_size: int = BATCH):
    import configs.toy2d
    cfg = configs.toy2d.get_config()
    t = cfg.training
    t.batch_size, t.n_iters, t.n_jitted_steps = batch_size, STEPS, CHUNK
    t.log_freq = t.snapshot_freq = CHUNK
    cfg.model.hidden, cfg.model.num_layers, cfg.model.embed_dim = 32, 1, 16
    cfg.model.num_scales = 50          # PC sampling: 50 predictor + 50 corrector steps
    cfg.model.ema_rate = 0.9
    cfg.optim.warmup = 5
    cfg.parallel.num_devices = num_devices
    return cfg


def flat(tree) -> dict:
    import jax
    leaves = jax.tree_util.tree_leaves_with_path(jax.device_get(tree))
    return {jax.tree_util.keystr(p): np.asarray(v) for p, v in leaves}


def run_worker(name: str, *args: str, devices: int, timeout: float, env: dict | None = None,
               wait: bool = True):
    """Start ``python tests/test_parallel.py name args`` with ``devices`` virtual CPU devices."""
    e = {k: v for k, v in os.environ.items()
         if k not in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")}
    flags = [f for f in e.get("XLA_FLAGS", "").split() if "force_host_platform_device_count" not in f]
    # Unoptimised CPU code compiles about twice as fast; these programs run for milliseconds.
    flags.append("--xla_backend_optimization_level=0")
    e.update(JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES=str(devices),
             PYTHONPATH=os.pathsep.join(p for p in (ROOT, e.get("PYTHONPATH")) if p),
             XLA_FLAGS=" ".join(flags))
    e.update(env or {})
    p = subprocess.Popen([sys.executable, HERE, name, *args], cwd=ROOT, env=e,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    p.timeout = timeout
    return finish(p) if wait else p


def finish(p) -> str:
    try:
        out, _ = p.communicate(timeout=p.timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        pytest.fail(f"worker {p.args[2]} timed out after {p.timeout} s:\n{out[-4000:]}")
    if p.returncode:
        pytest.fail(f"worker {p.args[2]} exited with {p.returncode}:\n{out[-6000:]}")
    return out


def finish_all(procs) -> list:
    """Wait for workers that depend on each other; if any fails, show every worker's output,
    since the one that failed first is often not the one that reports the error."""
    outs, status = [], []
    for p in procs:
        try:
            out, _ = p.communicate(timeout=p.timeout)
            status.append(f"exited with {p.returncode}" if p.returncode else "")
        except subprocess.TimeoutExpired:
            for q in procs:
                if q.poll() is None:
                    q.kill()
            out, _ = p.communicate()
            status.append(f"timed out after {p.timeout} s")
        outs.append(out)
    if any(status):
        pytest.fail("\n\n".join(f"worker {p.args[2]} #{i}: {st or 'exited with 0'}\n{out[-4000:]}"
                                for i, (p, st, out) in enumerate(zip(procs, status, outs))))
    return outs


def assert_trees_close(a: dict, b: dict, what: str, rtol=RTOL, atol=ATOL):
    assert a.keys() == b.keys(), what
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=atol, err_msg=f"{what}: {k}")


def load(path: str, prefix: str) -> dict:
    with np.load(path) as z:
        return {k[len(prefix):]: z[k] for k in z.files if k.startswith(prefix)}


# --------------------------------------------------------------------------------------------
# Workers (run in subprocesses)
# --------------------------------------------------------------------------------------------
def worker_devices(out_path: str, workdir: str) -> None:
    """8 virtual devices: the Trainer on 8 devices and on 1, both data paths, and sampling."""
    import jax
    from jax.sharding import PartitionSpec as P

    from run import mesh as mesh_lib
    from run.sample import make_sampler
    from run.train import train
    from run.trainer import Trainer

    assert jax.device_count() == 8, jax.devices()
    out = {}
    params0 = None
    # In-graph toy data on 8 and on 1 device; host batches (the same toy data fed from the host,
    # as any on-disk dataset is) on 8 devices.
    for in_graph, n in ((True, 8), (True, 1), (False, 8)):
        tr = Trainer(tiny_config(n), None, in_graph_data=in_graph)
        assert tr.mesh.devices.size == n and tr.mesh.axis_names == ("data",)
        state = tr.init_state()
        for leaf in jax.tree.leaves(state):
            assert leaf.sharding.is_equivalent_to(tr.replicated, leaf.ndim)
        if not in_graph:
            b = tr.host_batches(0, CHUNK)
            assert b.shape == (CHUNK, BATCH, 2) and b.sharding.spec == P(None, "data")
            assert {s.data.shape for s in b.addressable_shards} == {(CHUNK, BATCH // n, 2)}
        losses_ = []
        for start in range(0, STEPS, CHUNK):
            old = state
            state, m = tr.run_steps(state, start, CHUNK)
            # The state is donated: the step updates it in place, no copy is kept.
            assert all(x.is_deleted() for x in jax.tree.leaves(old.params))
            losses_.append(np.asarray(m["loss"]))
        assert int(state.step) == STEPS
        for leaf in jax.tree.leaves(state):
            assert leaf.sharding.is_equivalent_to(tr.replicated, leaf.ndim)
        # What XLA made of it (the executable is cached, nothing recompiles): on 8 devices the
        # only collective is the gradient/metric all-reduce; the batch is never gathered.
        args = (state,) if in_graph else (state, tr.host_batches(0, CHUNK))
        hlo = tr.compiled_steps(CHUNK).lower(*args).compile().as_text()
        assert collectives(hlo) == ({"all-reduce"} if n > 1 else set()), collectives(hlo)
        tag = f"{'graph' if in_graph else 'host'}{n}"
        out[f"{tag}/loss"] = np.concatenate(losses_)
        out.update({f"{tag}/params{k}": v for k, v in flat(state.params).items()})
        out.update({f"{tag}/ema{k}": v for k, v in flat(state.ema_params).items()})
        if params0 is None:
            params0 = jax.device_get(state.ema_params)

    # Sampling: the same key gives the same samples, sharded over 8 devices or on 1.
    key = jax.random.PRNGKey(3)
    for n in (8, 1):
        tr = Trainer(tiny_config(n), None)
        fn = make_sampler(tr, BATCH)
        x, nfe = fn(params0, key)
        assert x.sharding.spec == P("data") and len(x.sharding.device_set) == n
        # Each device integrates its own 64/n rows (the corrector's step size is the one global
        # reduction); the full [64, 2] batch never exists on one device.
        hlo = fn.lower(params0, key).compile().as_text()
        assert (f"f32[{BATCH},2]" in hlo) == (n == 1) and f"f32[{BATCH // n},2]" in hlo
        out[f"sample{n}"] = np.asarray(x)
        out[f"nfe{n}"] = np.asarray(nfe)

    # A batch that does not split over the devices fails before anything is compiled or written.
    try:
        train(tiny_config(8, batch_size=60), workdir, progress=False)
    except ValueError as e:
        assert "divisible by the number of devices (8)" in str(e) and "56" in str(e), e
    else:
        raise AssertionError("batch 60 on 8 devices did not raise")
    assert not os.path.exists(os.path.join(workdir, "checkpoints")), os.listdir(workdir)
    try:
        mesh_lib.make_mesh(9)
    except ValueError as e:
        assert "only 8 devices" in str(e)
    out.update(user_pmap())
    np.savez(out_path, **out)


def user_pmap() -> dict:
    """A user's own pmap train step around losses.get_loss_fn, and the same math under jit."""
    import jax
    import jax.numpy as jnp
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

    import losses
    from run import builders

    n = jax.device_count()
    assert n == 8
    cfg = tiny_config()
    sde, model = builders.build_sde(cfg), builders.build_model(cfg)
    score_fn_builder = builders.score_fn_builder(cfg, sde, model)
    params = builders.init_params(model, (2,), jax.random.PRNGKey(0))
    loss_fn = losses.get_loss_fn(sde, score_fn_builder, "dsm", reduce_mean=True)
    optimizer = losses.make_optimizer(lr=2e-3, warmup=5, grad_clip=1.0)
    ema_rate = 0.9

    # --- what a user writes: their own pmap, their own pmean (this mirrors docs/parallel.md) --
    def train_step(state, batch, rng):
        rng = jax.random.fold_in(rng, jax.lax.axis_index("batch"))   # own noise per device
        loss, grads = jax.value_and_grad(loss_fn)(state.params, batch, rng)
        grads = jax.lax.pmean(grads, axis_name="batch")
        loss = jax.lax.pmean(loss, axis_name="batch")
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        new_params = jax.tree.map(lambda p, u: p + u, state.params, updates)
        ema = jax.tree.map(lambda e, p: ema_rate * e + (1 - ema_rate) * p, state.ema_params, new_params)
        return losses.TrainState(state.step + 1, new_params, opt_state, ema), loss

    p_step = jax.pmap(train_step, axis_name="batch")
    state = losses.init_train_state(params, optimizer)
    p_state = jax.tree.map(lambda x: np.broadcast_to(np.asarray(x), (n,) + np.shape(x)), state)

    # --- the library's jit path over a global mesh: the same per-device noise, written as a
    # loss on the global batch (mean of the per-shard losses), through losses.make_train_step.
    def global_loss(params, batch, rng):
        shards = batch.reshape((n, -1) + batch.shape[1:])
        keys = jax.vmap(lambda i: jax.random.fold_in(rng, i))(jnp.arange(n))
        return jnp.mean(jax.vmap(loss_fn, in_axes=(None, 0, 0))(params, shards, keys))

    mesh = Mesh(np.asarray(jax.devices()), ("data",))
    rep, shard = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
    j_step = jax.jit(losses.make_train_step(global_loss, optimizer, ema_rate),
                     in_shardings=(rep, shard, rep), out_shardings=rep, donate_argnums=0)
    j_state = jax.device_put(state, rep)

    from datasets.toy2d import gmm_ring
    p_losses, j_losses = [], []
    for step in range(5):
        batch = np.asarray(gmm_ring(jax.random.PRNGKey(100 + step), BATCH))
        rng = jax.random.PRNGKey(200 + step)
        p_state, p_loss = p_step(p_state, batch.reshape(n, BATCH // n, 2),
                                 jnp.broadcast_to(rng, (n,) + rng.shape))
        j_state, m = j_step(j_state, batch, rng)
        p_losses.append(np.asarray(p_loss))
        j_losses.append(float(m["loss"]))
    p_losses = np.stack(p_losses)
    assert np.all(p_losses == p_losses[:, :1]), "pmean left the devices disagreeing"
    out = {"pmap/loss": p_losses[:, 0], "jit/loss": np.asarray(j_losses)}
    one = jax.tree.map(lambda x: x[0], p_state)
    out.update({f"pmap/params{k}": v for k, v in flat(one.params).items()})
    out.update({f"jit/params{k}": v for k, v in flat(j_state.params).items()})
    out.update({f"pmap/ema{k}": v for k, v in flat(one.ema_params).items()})
    out.update({f"jit/ema{k}": v for k, v in flat(j_state.ema_params).items()})
    return out


def worker_multiprocess(out_path: str, workdir: str) -> None:
    """One of two processes (JAX_* env vars set by the test): train() into a shared workdir,
    host batches on a mesh that interleaves the processes, and sampling."""
    from run import mesh as mesh_lib
    # Join the other process before anything touches a device (importing run.train does),
    # exactly as main.py does; train() calls it too, where it is then a no-op.
    assert mesh_lib.maybe_initialize_distributed(tiny_config())

    import jax
    from jax.experimental import multihost_utils
    from jax.sharding import Mesh

    from run.sample import draw
    from run.train import train
    from run.trainer import Trainer

    state = train(tiny_config(), workdir, progress=False)
    assert jax.process_count() == 2 and jax.device_count() == 4 and jax.local_device_count() == 2
    out = {f"train/params{k}": v for k, v in flat(state.params).items()}
    out.update({f"train/ema{k}": v for k, v in flat(state.ema_params).items()})

    # A device subset takes the same number from each process; one that cannot is refused.
    sub = mesh_lib.make_mesh(2)
    assert sorted(d.process_index for d in sub.devices.flat) == [0, 1]
    try:
        mesh_lib.make_mesh(3)
    except ValueError as e:
        assert "multiple of the number of processes (2)" in str(e), e
    else:
        raise AssertionError("make_mesh(3) on 2 processes did not raise")

    # Host batches on a mesh ordered p0, p1, p0, p1: this process holds rows [0, 16) and
    # [32, 48) (or [16, 32) and [48, 64)), not one contiguous half.
    tr = Trainer(tiny_config(), None, in_graph_data=False)
    by_proc = [[d for d in jax.devices() if d.process_index == p] for p in range(2)]
    tr.mesh = Mesh(np.asarray([by_proc[0][0], by_proc[1][0], by_proc[0][1], by_proc[1][1]]), ("data",))
    tr.replicated = mesh_lib.replicated(tr.mesh)
    pid = jax.process_index()
    assert mesh_lib.process_rows(tr.mesh, BATCH) == [slice(16 * pid, 16 * pid + 16),
                                                    slice(32 + 16 * pid, 48 + 16 * pid)]
    b = tr.host_batches(3, 2)
    assert b.shape == (2, BATCH, 2) and len(b.addressable_shards) == 2
    whole = np.asarray(multihost_utils.process_allgather(b, tiled=True))
    want = np.stack([np.asarray(tr.dataset.batch(tr.step_keys(s)[0], BATCH)) for s in (3, 4)])
    np.testing.assert_array_equal(whole, want)
    # The same with images made row by row (flips, dequantisation): each process makes only
    # its 32 rows, and together they are the batch one process would make.
    import datasets
    from data_configs import data_config
    tr.dataset = datasets.get_dataset(data_config(image_size=8, centered=True, random_flip=True,
                                                  uniform_dequantization=True))
    b = tr.host_batches(5, 1)
    whole = np.asarray(multihost_utils.process_allgather(b, tiled=True))
    np.testing.assert_array_equal(whole[0], tr.dataset.batch(tr.step_keys(5)[0], BATCH))

    x, nfe = draw(tr, jax.device_get(state.ema_params), 32, 16, jax.random.PRNGKey(5))
    out["sample"] = x
    np.savez(out_path, **out)


def worker_single(out_path: str, workdir: str, ckpt_workdir: str) -> None:
    """One process, one device: the reference run, and a restore of the 2-process checkpoint."""
    import jax

    from run.checkpoint import Checkpointer
    from run.sample import draw
    from run.train import train
    from run.trainer import Trainer

    state = train(tiny_config(), workdir, progress=False)
    assert jax.process_count() == 1 and jax.device_count() == 1
    out = {f"train/params{k}": v for k, v in flat(state.params).items()}
    out.update({f"train/ema{k}": v for k, v in flat(state.ema_params).items()})
    ckpt = Checkpointer(ckpt_workdir)
    assert ckpt.latest_step() == STEPS, ckpt.latest_step()
    restored = ckpt.restore(state)   # any state of the right structure names the target
    ckpt.close()
    assert int(restored.step) == STEPS
    out.update({f"restored/params{k}": v for k, v in flat(restored.params).items()})
    out.update({f"restored/ema{k}": v for k, v in flat(restored.ema_params).items()})
    x, _ = draw(Trainer(tiny_config(), None), jax.device_get(state.ema_params), 32, 16,
                jax.random.PRNGKey(5))
    out["sample"] = x
    np.savez(out_path, **out)


def worker_preempt(out_path: str, workdir: str) -> None:
    """One of two processes training "forever" into a shared workdir until a signal stops it."""
    from run import mesh as mesh_lib
    assert mesh_lib.maybe_initialize_distributed(tiny_config())
    from run.train import train
    cfg = tiny_config()
    cfg.training.n_iters, cfg.training.snapshot_freq, cfg.training.log_freq = 10**8, 10**8, 50
    state = train(cfg, workdir, progress=False)
    np.savez(out_path, step=int(state.step))


WORKERS = {f.__name__: f for f in (worker_devices, worker_multiprocess, worker_single, worker_preempt)}


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def eight_devices(tmp_path_factory) -> str:
    """One subprocess with 8 virtual CPU devices runs every 8-device check; tests read its npz."""
    tmp = tmp_path_factory.mktemp("eight_devices")
    out = str(tmp / "out.npz")
    run_worker("worker_devices", out, str(tmp / "bad"), devices=8, timeout=300)
    return out


def test_eight_devices_match_one_device(eight_devices):
    """k steps on a global batch sharded over 8 devices == the same k steps on 1 device, for
    in-graph toy data and for host batches; sampling gives the same samples for the same key."""
    out = eight_devices
    r = np.load(out)
    # The host path on 8 devices is compared with the in-graph path on 1: host batches of a
    # toy dataset are exactly the in-graph batches, so all three runs must agree.
    for path in ("graph8", "host8"):
        np.testing.assert_allclose(r[f"{path}/loss"], r["graph1/loss"], rtol=RTOL, atol=ATOL)
        for kind in ("params", "ema"):
            assert_trees_close(load(out, f"{path}/{kind}"), load(out, f"graph1/{kind}"), f"{path} {kind}")
    assert np.all(np.isfinite(r["graph8/loss"])) and r["graph8/loss"][-1] < r["graph8/loss"][0]
    # 100 stochastic steps of float noise from different matmul tilings: ~1e-4 on samples of O(1).
    np.testing.assert_allclose(r["sample8"], r["sample1"], rtol=1e-3, atol=1e-3)
    assert np.std(r["sample8"]) > 0.5
    assert int(r["nfe8"]) == int(r["nfe1"]) > 0


def test_user_pmap_with_own_pmean_matches_jit(eight_devices):
    """losses.get_loss_fn inside a user's jax.pmap with their own lax.pmean of the gradients
    trains exactly like the library's axis-free step under jit over the same 8 devices."""
    out = eight_devices
    r = np.load(out)
    np.testing.assert_allclose(r["pmap/loss"], r["jit/loss"], rtol=RTOL, atol=ATOL)
    for kind in ("params", "ema"):
        assert_trees_close(load(out, f"pmap/{kind}"), load(out, f"jit/{kind}"), f"pmap vs jit {kind}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_match_one_and_share_checkpoints(tmp_path):
    """Two processes (2 CPU devices each) joined by jax.distributed on localhost train into one
    workdir: identical parameters in both, equal to a 1-process run; only process 0 writes
    metrics; the checkpoint they wrote restores in a 1-process run."""
    shared, port = str(tmp_path / "shared"), free_port()
    procs = [run_worker("worker_multiprocess", str(tmp_path / f"p{i}.npz"), shared, devices=2,
                        timeout=240, wait=False,
                        env=dict(JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2",
                                 JAX_PROCESS_ID=str(i)))
             for i in range(2)]
    finish_all(procs)
    run_worker("worker_single", str(tmp_path / "single.npz"), str(tmp_path / "single"), shared,
               devices=1, timeout=180)
    p0, p1, one = (str(tmp_path / f) for f in ("p0.npz", "p1.npz", "single.npz"))
    for kind in ("params", "ema"):
        a, b = load(p0, f"train/{kind}"), load(p1, f"train/{kind}")
        assert_trees_close(a, b, f"process 0 vs 1 {kind}", rtol=0, atol=0)
        assert_trees_close(a, load(one, f"train/{kind}"), f"2 processes vs 1 {kind}")
        assert_trees_close(a, load(one, f"restored/{kind}"), f"restored {kind}", rtol=0, atol=0)
    np.testing.assert_array_equal(np.load(p0)["sample"], np.load(p1)["sample"])
    np.testing.assert_allclose(np.load(p0)["sample"], np.load(one)["sample"], rtol=1e-3, atol=1e-3)
    with open(os.path.join(shared, "metrics.jsonl")) as f:
        steps = [json.loads(line)["step"] for line in f]
    assert steps == list(range(CHUNK, STEPS + 1, CHUNK)), steps   # once each: process 0 only


def test_sigterm_to_one_process_stops_both_at_one_step_with_one_lock(tmp_path):
    """SIGTERM reaches process 1 only (as when one host is drained): both processes agree on the
    step, save it together and exit 0. Only process 0 holds the workdir's lock."""
    import signal
    import time
    shared, port = str(tmp_path / "shared"), free_port()
    procs = [run_worker("worker_preempt", str(tmp_path / f"p{i}.npz"), shared, devices=2, timeout=240, wait=False,
                        env=dict(JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2",
                                 JAX_PROCESS_ID=str(i)))
             for i in range(2)]
    metrics, deadline = os.path.join(shared, "metrics.jsonl"), time.time() + 180
    while not (os.path.exists(metrics) and sum(1 for _ in open(metrics)) >= 4):
        if time.time() > deadline or any(p.poll() is not None for p in procs):
            finish_all(procs)
            pytest.fail("the two processes did not start training")
        time.sleep(0.05)
    with open(os.path.join(shared, "train.lock")) as f:
        assert json.load(f)["pid"] == procs[0].pid
    procs[1].send_signal(signal.SIGTERM)
    outs = finish_all(procs)   # both exit 0
    steps = [int(np.load(tmp_path / f"p{i}.npz")["step"]) for i in range(2)]
    saved = sorted(int(n) for n in os.listdir(os.path.join(shared, "checkpoints")) if n.isdigit())
    assert steps[0] == steps[1] and saved == [steps[0]], (steps, saved)
    assert f"stopped by a signal to another process at step {steps[0]}" in outs[0]
    assert f"stopped by SIGTERM at step {steps[0]}" in outs[1] or "SIGTERM received" in outs[1]


# --------------------------------------------------------------------------------------------
# In-process checks (the pytest process has one device)
# --------------------------------------------------------------------------------------------
def test_mesh_errors_are_clear(monkeypatch):
    import jax

    from run import mesh as mesh_lib
    mesh = mesh_lib.make_mesh(0)
    assert mesh.axis_names == ("data",) and mesh.devices.size == jax.device_count()
    with pytest.raises(ValueError, match="devices exist"):
        mesh_lib.make_mesh(jax.device_count() + 1)
    for var in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(var, raising=False)
    cfg = tiny_config()
    assert mesh_lib.maybe_initialize_distributed(cfg) is False   # single process: no-op
    cfg.parallel.distributed = True
    jax.devices()
    with pytest.raises(RuntimeError, match="before any other JAX call"):
        mesh_lib.maybe_initialize_distributed(cfg)


def test_global_batch_single_process_is_device_put():
    import jax

    from run import mesh as mesh_lib
    mesh = mesh_lib.make_mesh(0)
    x = np.arange(2 * 8 * 3, dtype=np.float32).reshape(2, 8, 3)
    assert mesh_lib.process_rows(mesh, 8) == [slice(0, 8)]
    g = mesh_lib.global_batch(x, mesh, extra_leading=1)
    assert g.shape == x.shape and g.sharding.spec == jax.sharding.PartitionSpec(None, "data")
    np.testing.assert_array_equal(np.asarray(g), x)


if __name__ == "__main__":
    WORKERS[sys.argv[1]](*sys.argv[2:])
