"""Metrics to ``<workdir>/metrics.jsonl`` and TensorBoard events; only process 0 writes."""
from __future__ import annotations

import json
import os
import time

import jax


class MetricsWriter:
    def __init__(self, workdir: str):
        self.enabled = jax.process_index() == 0
        self.path = os.path.join(workdir, "metrics.jsonl")
        self._tb = None
        if self.enabled:
            try:
                from tensorboardX import SummaryWriter
                self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))
            except ImportError:  # TensorBoard events are optional; metrics.jsonl is always written
                self._tb = None

    def write(self, step: int, mode: str, **scalars) -> None:
        if not self.enabled:
            return
        record = {"step": int(step), "mode": mode, "time": time.time()}
        record.update({k: float(v) for k, v in scalars.items()})
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self._tb is not None:
            for k, v in scalars.items():
                self._tb.add_scalar(f"{mode}/{k}", float(v), int(step))
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
