"""A 128 × 128 brain-MRI prior that trains on a laptop CPU and ships with the repository.

DDPM++ (VP SDE, continuous DSM), nf 16, ch_mult (1, 2, 4, 4, 4) over 128 → 8 px, one residual
block per level, attention at 8 px only, no dropout: 1.7 M parameters (6.9 MB of EMA weights).
Embedded MNI152 brain slices at 128 px (1.5 mm), random T1 / T2 / PD-like contrasts, elastic and
affine augmentation, magnitude in [0, 1]. Measured on the 2 CPU cores: 1.0–1.3 s per step at
batch 8 (0.75–0.87 steps / s), so the 4000 steps took about 80 minutes. Unconditional samples
from it (DPM-Solver++, 20 NFE) are still noise at 4000 steps; as a prior for reconstruction,
where the k-space fixes the coarse content, it beats tuned CS (priors/brain128/README.md).

The shipped prior in ``priors/brain128/`` was made by (``make prior``, see the README):

    python main.py --config configs/mri/brain128.py --workdir runs/brain128 --mode train
    python main.py --config configs/mri/brain128.py --workdir runs/brain128 --mode export

and is read, with no training, by every reading mode in a workdir without checkpoints:

    python main.py --config configs/mri/brain128.py --workdir runs/b --mode recon
    python bench/bench_mri.py --config configs/mri/brain128.py --workdir runs/b --methods dds,score_mri --steps 50
"""
from configs.mri.brain_recon import get_config as brain_recon_config


def get_config():
    config = brain_recon_config()
    t = config.training
    t.batch_size = 8
    t.n_iters = 4000
    t.snapshot_freq = 1000
    t.log_freq = 50
    t.n_jitted_steps = 1
    t.snapshot_sampling = False
    config.optim.lr = 1e-3
    config.optim.warmup = 200
    config.data.image_size = 128
    m = config.model
    m.image_size = 128
    m.nf = 16
    m.ch_mult = (1, 2, 4, 4, 4)
    m.num_res_blocks = 1
    m.attn_resolutions = (8,)
    m.dropout = 0.0
    m.ema_rate = 0.999
    # eval / sample at this size on a CPU: a fast solver, a few images, no ODE bits/dim
    config.sampling.method = "dpm_solver_pp"
    config.sampling.num_samples = 16
    config.eval.batch_size = 16
    config.eval.num_samples = 16
    config.eval.enable_bpd = False
    config.prior_dir = "priors/brain128"
    r = config.recon
    r.method = "dds"
    r.dds.num_steps = 50
    r.num_slices = 8
    r.slice_batch = 4
    r.n_samples = 4
    r.cs_method = "tv,wavelet"
    return config
