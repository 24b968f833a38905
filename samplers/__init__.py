"""Sampling from score-based models: predictors, correctors, PC, ODE and fast solvers.

    x, nfe = samplers.sample(rng, sde, score_fn, shape, method="pc", predictor="euler_maruyama",
                             corrector="langevin", snr=0.16)
    x, nfe = samplers.sample(rng, sde, score_fn, shape, method="dpm_solver_pp", num_steps=20)
    logp, nfe = samplers.log_likelihood(rng, sde, score_fn, x, estimator="rademacher")
    vlb = samplers.ddpm_vlb(rng, sde, score_fn, x, variance="fixed_large")   # vlb.bpd: [B] bits/dim

    x, nfe = samplers.posterior_sample(rng, sde, score_fn, operator, y, method="dds")

Pure JAX: no Flax, no disk, no device-axis names. Every method is one compiled program. Nothing
is cached between calls: ``get_sampler`` returns a compiled function for the caller to keep.
"""
from samplers.api import METHODS, get_method, get_sampler, sample
from samplers.correctors import CORRECTORS, get_corrector
from samplers.pc import pc_sample, time_grid
from samplers.predictors import PREDICTORS, get_predictor
from samplers.rk45 import ODEStats, dopri5
from samplers.ode import ode_sample, ode_solve
from samplers.ddim import ddim_sample, ddim_update
from samplers.dpm_solver import dpm_solver_pp_sample
from samplers.heun import heun_sample
from samplers.adaptive_sde import adaptive_sde_sample
from samplers.likelihood import ESTIMATORS, bits_per_dim, log_likelihood
from samplers.schedules import SCHEDULES, draw_prior, step_times
from samplers.posterior import (MULTICOIL_MODES, POSTERIOR_METHODS, PRIOR_KINDS, PriorView, from_complex,
                                get_posterior_method, posterior_mean_std, posterior_options, posterior_sample,
                                to_complex)
from samplers.vlb import (DECODERS, VARIANCES, VLB, VLB_ESTIMATORS, ddpm_vlb,
                          discretized_gaussian_log_likelihood, normal_kl)

__all__ = ["METHODS", "get_method", "get_sampler", "sample", "CORRECTORS", "get_corrector",
           "PREDICTORS", "get_predictor", "pc_sample", "time_grid", "ODEStats", "dopri5",
           "ode_sample", "ode_solve", "ddim_sample", "dpm_solver_pp_sample", "heun_sample",
           "adaptive_sde_sample", "ESTIMATORS", "bits_per_dim", "log_likelihood", "SCHEDULES",
           "draw_prior", "step_times", "ddim_update", "POSTERIOR_METHODS", "MULTICOIL_MODES", "PRIOR_KINDS",
           "PriorView", "from_complex", "get_posterior_method", "posterior_mean_std", "posterior_options",
           "posterior_sample", "to_complex", "DECODERS", "VARIANCES", "VLB", "VLB_ESTIMATORS", "ddpm_vlb",
           "discretized_gaussian_log_likelihood", "normal_kl"]
