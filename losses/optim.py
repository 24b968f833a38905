"""The optimiser of score_sde: Adam with linear warm-up and global-norm gradient clipping."""
from __future__ import annotations

import optax


def make_optimizer(lr: float = 2e-4, warmup: int = 5000, grad_clip: float = 1.0, beta1: float = 0.9,
                   eps: float = 1e-8, weight_decay: float = 0.0) -> optax.GradientTransformation:
    if lr <= 0:
        raise ValueError(f"optim.lr must be > 0; got {lr}")
    schedule = optax.linear_schedule(0.0, lr, warmup) if warmup > 0 else lr
    parts = []
    if grad_clip is not None and grad_clip > 0:
        parts.append(optax.clip_by_global_norm(grad_clip))
    if weight_decay:
        parts.append(optax.adamw(schedule, b1=beta1, eps=eps, weight_decay=weight_decay))
    else:
        parts.append(optax.adam(schedule, b1=beta1, eps=eps))
    return optax.chain(*parts)
