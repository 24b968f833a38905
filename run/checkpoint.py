"""Orbax checkpoints of the TrainState under ``<workdir>/checkpoints``.

Every process calls save/restore (Orbax coordinates multi-host writes). A state is saved only
after it has been checked finite, so a diverged run never replaces its last good checkpoint.
"""
from __future__ import annotations

import os

import jax
import orbax.checkpoint as ocp


class Checkpointer:
    def __init__(self, workdir: str, max_to_keep: int = 3):
        self.directory = os.path.join(os.path.abspath(workdir), "checkpoints")
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True)
        self.manager = ocp.CheckpointManager(self.directory, options=options)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state) -> None:
        self.manager.save(int(step), args=ocp.args.StandardSave(state))

    def restore(self, abstract_state, step: int | None = None):
        """Restore into the structure (and shardings) of ``abstract_state``."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}: train first (--mode train)")
        target = jax.tree.map(ocp.utils.to_shape_dtype_struct, abstract_state)
        try:
            return self.manager.restore(step, args=ocp.args.StandardRestore(target))
        except ValueError as e:
            raise ValueError(
                f"checkpoint {step} in {self.directory} does not match this config's model / optimizer "
                f"(was it written with other model.* or optim.* settings?). Use a new --workdir or the "
                f"original config. Orbax said: {str(e)[:1500]}") from None

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()
