"""The ground floor that ``mri/`` and ``samplers/`` share: per-sample array helpers, linear
operators that are not MRI (inpainting, colorization), and one conjugate-gradient solver.

    import linops
    v = linops.bcast(sigma, x)                  # [B] -> broadcastable against x: [B, ...]
    ip = linops.inner(a, b)                     # Re <a, b> per sample, [B, 1, ..., 1]
    x = linops.conjugate_gradient(op.normal, rhs, n_iter=20, damping=0.0, batched=True)
    op = linops.InpaintingOperator(mask)        # also ColorizationOperator(); LinearOperator base

Pure JAX: imports nothing of this project, so every other package may build on it.
"""
from linops.arrays import bcast, inner
from linops.cg import conjugate_gradient
from linops.operators import ColorizationOperator, InpaintingOperator, LinearOperator

__all__ = ["bcast", "inner", "conjugate_gradient", "LinearOperator", "InpaintingOperator",
           "ColorizationOperator"]
