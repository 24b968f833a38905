"""The global device mesh: one ``data`` axis over every device of every process.

Batches are sharded on ``data``, the train state is replicated; jit inserts the collectives.
The same code runs on 1 CPU, 8 GPUs and a multi-host pod.
"""
from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = "data"


def maybe_initialize_distributed(config) -> None:
    """``jax.distributed.initialize()`` when the config or the environment asks for it.

    Environment: JAX_COORDINATOR_ADDRESS (+ JAX_NUM_PROCESSES, JAX_PROCESS_ID), or a cluster JAX
    detects itself (SLURM, TPU pod) when ``parallel.distributed`` is true.
    """
    want = bool(config.parallel.get("distributed", False)) or "JAX_COORDINATOR_ADDRESS" in os.environ
    if not want or jax.distributed.is_initialized():
        return
    addr = os.environ.get("JAX_COORDINATOR_ADDRESS")
    if addr:
        jax.distributed.initialize(coordinator_address=addr,
                                   num_processes=int(os.environ["JAX_NUM_PROCESSES"]),
                                   process_id=int(os.environ["JAX_PROCESS_ID"]))
    else:
        jax.distributed.initialize()


def make_mesh(num_devices: int = 0) -> Mesh:
    devices = jax.devices()
    if num_devices:
        if num_devices > len(devices):
            raise ValueError(f"parallel.num_devices={num_devices} but only {len(devices)} devices exist")
        devices = devices[:num_devices]
    return Mesh(np.asarray(devices), (DATA_AXIS,))


def check_batch(batch_size: int, mesh: Mesh, what: str = "training.batch_size") -> None:
    n = mesh.devices.size
    if batch_size % n:
        raise ValueError(f"{what}={batch_size} must be divisible by the number of devices ({n}); "
                         f"use a multiple of {n}, e.g. {max(n, batch_size // n * n)}")


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh, extra_leading: int = 0) -> NamedSharding:
    """Shard the batch axis (after ``extra_leading`` unsharded axes, e.g. a scan axis)."""
    return NamedSharding(mesh, P(*([None] * extra_leading), DATA_AXIS))


def global_batch(local: np.ndarray, mesh: Mesh, extra_leading: int = 0) -> jax.Array:
    """Assemble the global batch from each process's share ``local``."""
    return jax.make_array_from_process_local_data(batch_sharding(mesh, extra_leading), local)
