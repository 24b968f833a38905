"""Exponential moving average of parameters."""
import jax


def ema_update(ema_params, params, rate: float):
    """ema <- rate · ema + (1 - rate) · params, leaf by leaf."""
    return jax.tree.map(lambda e, p: rate * e + (1.0 - rate) * p, ema_params, params)
