"""Training objectives for score models and the train-step factory (pure JAX + Optax).

    loss_fn = losses.get_loss_fn(sde, score_fn_builder, kind="dsm", reduce_mean=True)
    # score_fn_builder(params, rng, train) -> score_fn(x, t); loss_fn(params, batch, rng) -> scalar
    step = losses.make_train_step(loss_fn, losses.make_optimizer(lr=2e-4), ema_rate=0.999)
"""
from losses.objectives import (LOSSES, ddpm_loss, discrete_loss, dsm_loss, get_loss_fn, smld_loss,
                               ssm_loss)
from losses.optim import make_optimizer
from losses.train_step import TrainState, init_train_state, make_train_step

__all__ = ["LOSSES", "ddpm_loss", "discrete_loss", "dsm_loss", "get_loss_fn", "smld_loss",
           "ssm_loss", "make_optimizer", "TrainState", "init_train_state", "make_train_step"]
