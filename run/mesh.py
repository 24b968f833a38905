"""The global device mesh: one ``data`` axis over the devices of every process.

Batches are sharded on ``data``; the train state is replicated; ``jax.jit`` inserts the gradient
all-reduce. The same code runs on 1 CPU, 8 GPUs and a multi-host pod: nothing in ``losses/`` or
``samplers/`` names an axis.

Multi-host runs start one process per host (or per GPU); every process runs the same program,
derives the same keys and sees the same global arrays. ``maybe_initialize_distributed`` joins
them, ``process_rows`` says which rows of a global batch a process must supply, and
``global_batch`` assembles the sharded global batch from those rows.
"""
from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = "data"

_ENV_VARS = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")


def distributed_requested(config=None) -> bool:
    """True when ``parallel.distributed`` is set or one of the JAX_* launch variables is."""
    if config is not None and bool(config.get("parallel", {}).get("distributed", False)):
        return True
    return any(v in os.environ for v in _ENV_VARS)


def maybe_initialize_distributed(config=None) -> bool:
    """Call ``jax.distributed.initialize()`` when the config or the environment asks for it.

    It must run before anything touches a JAX device (building an SDE already does), so the
    entry point calls it first. Returns whether this process is part of a multi-process run.

    Environment: ``JAX_COORDINATOR_ADDRESS`` (``host:port`` of process 0), ``JAX_NUM_PROCESSES``
    and ``JAX_PROCESS_ID``. Any of them left unset is detected by JAX on clusters it knows
    (SLURM, Open MPI, TPU pods, GKE) when ``parallel.distributed`` is true.
    """
    from jax._src import xla_bridge as _xb  # no public "were devices used yet?"

    if jax.distributed.is_initialized():
        return True
    if not distributed_requested(config):
        return False
    if _xb.backends_are_initialized():
        raise RuntimeError(
            "multi-process run requested (parallel.distributed or JAX_COORDINATOR_ADDRESS / "
            "JAX_NUM_PROCESSES / JAX_PROCESS_ID), but JAX devices were already used in this "
            "process; call run.mesh.maybe_initialize_distributed(config) (or "
            "jax.distributed.initialize()) before any other JAX call")
    kwargs = {}
    if "JAX_COORDINATOR_ADDRESS" in os.environ:
        kwargs["coordinator_address"] = os.environ["JAX_COORDINATOR_ADDRESS"]
    for var, arg in (("JAX_NUM_PROCESSES", "num_processes"), ("JAX_PROCESS_ID", "process_id")):
        if var in os.environ:
            try:
                kwargs[arg] = int(os.environ[var])
            except ValueError:
                raise ValueError(f"{var}={os.environ[var]!r} is not an integer") from None
    jax.distributed.initialize(**kwargs)
    return True


def make_mesh(num_devices: int = 0) -> Mesh:
    """A 1-D mesh named ``data`` over ``num_devices`` devices (0: every device of every process).

    With several processes each contributes the same number of devices (its first
    ``num_devices / process_count``), so every process holds part of every batch.
    """
    devices = jax.devices()
    n_proc = jax.process_count()
    num_devices = int(num_devices)
    if num_devices < 0:
        raise ValueError(f"parallel.num_devices must be >= 0 (0 = all); got {num_devices}")
    if num_devices and num_devices != len(devices):
        if num_devices > len(devices):
            raise ValueError(f"parallel.num_devices={num_devices} but only {len(devices)} devices "
                             f"exist; use 0 for all of them")
        if num_devices % n_proc:
            raise ValueError(f"parallel.num_devices={num_devices} must be a multiple of the number "
                             f"of processes ({n_proc}); use 0 for all {len(devices)} devices")
        per = num_devices // n_proc
        devices = [d for p in range(n_proc) for d in [d for d in devices if d.process_index == p][:per]]
    return Mesh(np.asarray(devices), (DATA_AXIS,))


def check_batch(batch_size: int, mesh: Mesh, what: str = "training.batch_size") -> None:
    """A batch that does not split evenly over the devices is an error before any compute."""
    n = mesh.devices.size
    if batch_size % n:
        lo, hi = max(n, batch_size // n * n), -(-batch_size // n) * n
        raise ValueError(f"{what}={batch_size} must be divisible by the number of devices ({n}); "
                         f"use a multiple of {n}, e.g. {lo}" + (f" or {hi}" if hi != lo else ""))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh, extra_leading: int = 0) -> NamedSharding:
    """Shard the batch axis (after ``extra_leading`` unsharded axes, e.g. a scan axis)."""
    return NamedSharding(mesh, P(*([None] * extra_leading), DATA_AXIS))


def process_rows(mesh: Mesh, batch_size: int) -> list[slice]:
    """The row blocks of a ``[batch_size, ...]`` global batch that live on this process's devices.

    Sorted by position in the batch; their concatenation is what this process passes to
    ``global_batch``. With the usual device order they form one block, ``[p*B/P, (p+1)*B/P)``,
    but nothing here assumes that.
    """
    check_batch(batch_size, mesh)
    idx = batch_sharding(mesh).addressable_devices_indices_map((batch_size,))
    starts = sorted({(s[0].start or 0, s[0].stop if s[0].stop is not None else batch_size)
                     for s in idx.values()})
    return [slice(a, b) for a, b in starts]


def global_batch(local: np.ndarray, mesh: Mesh, extra_leading: int = 0) -> jax.Array:
    """Assemble the global batch, sharded on ``data``, from each process's ``local`` rows.

    ``local`` holds this process's rows (``process_rows``, in order) on the batch axis, which
    comes after ``extra_leading`` axes that every process supplies whole (e.g. scan steps).
    """
    local = np.asarray(local)
    sharding = batch_sharding(mesh, extra_leading)
    if jax.process_count() == 1:
        return jax.make_array_from_process_local_data(sharding, local)
    mine = sum(d.process_index == jax.process_index() for d in mesh.devices.flat)
    shape = list(local.shape)
    shape[extra_leading] = shape[extra_leading] // mine * mesh.devices.size
    return jax.make_array_from_process_local_data(sharding, local, tuple(shape))


def broadcast_from_0(value: int) -> int:
    """Process 0's ``value`` on every process (a host-level decision all processes must share)."""
    if jax.process_count() == 1:
        return int(value)
    from jax.experimental import multihost_utils
    return int(multihost_utils.broadcast_one_to_all(np.int32(value)))


def all_processes(flag: bool) -> bool:
    """True on every process iff ``flag`` is true on every process (blocking, host level)."""
    if jax.process_count() == 1:
        return bool(flag)
    from jax.experimental import multihost_utils
    return bool(np.min(multihost_utils.process_allgather(np.int32(bool(flag)))))


def barrier(name: str) -> None:
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices(name)
