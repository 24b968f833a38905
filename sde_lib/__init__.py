"""SDEs for score-based generative modelling, their discrete views and prediction conversions.

    sde = sde_lib.VPSDE(beta_min=0.1, beta_max=20.0, N=1000)   # or CosineVPSDE(N=1000)
    drift, diffusion = sde.sde(x, t)          # x: [B, ...], t: [B]
    mean, std = sde.marginal_prob(x, t)

Pure JAX / NumPy: nothing here imports Flax or touches disk.
"""
from sde_lib.base import SDE, ReverseSDE, ScoreFn, bcast, standard_normal_logp
from sde_lib.continuous import SDES, CosineVPSDE, VESDE, VPSDE, get_sde, subVPSDE
from sde_lib.discrete import (BETA_SCHEDULES, DDPMChain, SMLDLadder, cosine_alpha_bar, cosine_betas,
                              get_betas, linear_betas)
from sde_lib.convert import (eps_from_score, eps_from_x0, score_from_eps, score_from_x0,
                             x0_from_eps, x0_from_score)
from sde_lib.analytic import GaussianMixture

__all__ = [
    "SDE", "ReverseSDE", "ScoreFn", "bcast", "standard_normal_logp", "SDES", "VESDE", "VPSDE",
    "subVPSDE", "get_sde", "CosineVPSDE", "DDPMChain", "SMLDLadder", "BETA_SCHEDULES", "get_betas",
    "linear_betas", "cosine_betas", "cosine_alpha_bar", "eps_from_score", "eps_from_x0",
    "score_from_eps", "score_from_x0", "x0_from_eps", "x0_from_score", "GaussianMixture",
]
