"""Sampling from score-based models: predictors, correctors, PC, ODE and fast solvers.

    x, nfe = samplers.sample(rng, sde, score_fn, shape, method="pc", predictor="euler_maruyama",
                             corrector="langevin", snr=0.16)

Pure JAX: no Flax, no disk, no device-axis names. Every method is one compiled program.
"""
from samplers.api import METHODS, get_method, get_sampler, sample
from samplers.correctors import CORRECTORS, get_corrector
from samplers.pc import pc_sample, time_grid
from samplers.predictors import PREDICTORS, get_predictor

__all__ = ["METHODS", "get_method", "get_sampler", "sample", "CORRECTORS", "get_corrector",
           "PREDICTORS", "get_predictor", "pc_sample", "time_grid"]
