"""The train step: loss, gradient, Optax update and EMA as one pure function."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax


class TrainState(NamedTuple):
    step: jax.Array          # int32 scalar: number of updates applied
    params: Any
    opt_state: Any
    ema_params: Any


def init_train_state(params, optimizer: optax.GradientTransformation) -> TrainState:
    return TrainState(jnp.zeros((), jnp.int32), params, optimizer.init(params),
                      jax.tree.map(jnp.array, params))


def make_train_step(loss_fn: Callable, optimizer: optax.GradientTransformation, ema_rate: float
                    ) -> Callable[[TrainState, jax.Array, jax.Array], tuple[TrainState, dict]]:
    """``step(state, batch, rng) -> (state, {"loss", "grad_norm"})``.

    Pure and axis-free: jit it over a mesh (batch sharded, state replicated) and XLA inserts the
    gradient all-reduce; or call it inside a pmap after averaging grads yourself (see README).
    """
    def step(state: TrainState, batch: jax.Array, rng: jax.Array):
        loss, grads = jax.value_and_grad(loss_fn)(state.params, batch, rng)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        ema = jax.tree.map(lambda e, p: ema_rate * e + (1.0 - ema_rate) * p, state.ema_params, params)
        metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads)}
        return TrainState(state.step + 1, params, opt_state, ema), metrics
    return step
