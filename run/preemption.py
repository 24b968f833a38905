"""SIGTERM / SIGINT during training: stop at a chunk boundary that every process agrees on,
save a checkpoint there and exit 0; a second signal aborts at once.

SLURM, Kubernetes and TPU maintenance send SIGTERM, then SIGKILL after a grace period. The
handler only sets a flag; the train loop asks :meth:`PreemptionGuard.should_stop` at every
chunk boundary (every ``n_jitted_steps`` steps, or sooner at log / snapshot boundaries).

After the first signal both SIGTERM and SIGINT are reset to their default action, so a second
one kills the process immediately, even while the main thread is blocked inside a save. That
cannot damage earlier checkpoints: Orbax writes into ``<step>.orbax-checkpoint-tmp*`` and renames
it to ``<step>`` only when complete; the unfinished directory is not a step to Orbax and the next
training run deletes it (``cleanup_tmp_directories``).

Multi-process agreement: each boundary dispatches a one-number all-reduce ("did any process get
a signal?") over the mesh and reads the previous boundary's result, so all processes stop at the
same boundary (the one after the vote turned true) and the host never waits for the device just
to vote. Why not JAX's preemption service (``multihost_utils.reached_preemption_sync_point``,
which Orbax's ``CheckpointManager.reached_preemption`` wraps): its counter must advance by one per
call on every process, but Orbax itself calls it with the step number at each save, which breaks
that count when steps advance by ``n_jitted_steps``; it hears only SIGTERM, with a 1 s poll; and
its C++ handler swallows a second SIGTERM, so the abort above would not work. Installing this
handler (after ``jax.distributed.initialize``) replaces that one.
"""
from __future__ import annotations

import os
import signal
import threading

import jax
import jax.numpy as jnp
import numpy as np

from run import mesh as mesh_lib

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class PreemptionGuard:
    """Installed for the duration of a training loop (``with PreemptionGuard(mesh) as guard``)."""

    def __init__(self, mesh):
        self.mesh = mesh
        self.signum: int | None = None
        self._previous: dict = {}
        self._pending = None
        self._vote = None

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    def _handle(self, signum, frame) -> None:
        self.signum = signum
        for s in SIGNALS:
            signal.signal(s, signal.SIG_DFL)
        # os.write, not print: the main thread may be inside a buffered write to stderr (the
        # progress bar), and re-entering it from a handler raises.
        os.write(2, (f"\n{signal.Signals(signum).name} received: saving a checkpoint at the next chunk "
                     f"boundary, then exiting. Send it again to abort now (earlier checkpoints stay "
                     f"intact).\n").encode())

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():   # signal.signal needs it
            for s in SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc):
        for s, h in self._previous.items():
            # None: a handler installed from C (JAX's preemption notifier); the default is the
            # closest Python can put back.
            signal.signal(s, h if h is not None else signal.SIG_DFL)
        self._previous = {}

    def should_stop(self) -> bool:
        """Whether to save and stop now. Call it at every chunk boundary on every process."""
        if jax.process_count() == 1:
            return self.signum is not None
        if self._vote is None:
            self._vote = jax.jit(jnp.max, out_shardings=mesh_lib.replicated(self.mesh))
        local = sum(d.process_index == jax.process_index() for d in self.mesh.devices.flat)
        flags = mesh_lib.global_batch(np.full((local,), self.signum is not None, np.int32), self.mesh)
        previous, self._pending = self._pending, self._vote(flags)
        return previous is not None and bool(np.asarray(previous.addressable_data(0)))
