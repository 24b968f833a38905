"""The brain prior of configs/mri/brain_recon.py shrunk to train on a laptop CPU (~25 min, 2 cores).

    python main.py --config configs/mri/brain_recon_cpu.py --workdir runs/brain_cpu --mode train
    python main.py --config configs/mri/brain_recon_cpu.py --workdir runs/brain_cpu --mode recon
    python bench/bench_mri.py --config configs/mri/brain_recon_cpu.py --workdir runs/brain_cpu --methods dds --steps 50

DDPM++ (VP, continuous), nf=32, ch_mult (1, 2, 2), one res block per level, attention at 8 px,
32×32 slices, batch 32, 3000 steps at lr 1e-3.
"""
from configs.mri.brain_recon import get_config as full_config


def get_config():
    config = full_config()
    config.model.nf = 32
    config.model.num_res_blocks = 1
    config.model.dropout = 0.0
    config.training.batch_size = 32
    config.training.n_iters = 3000
    config.training.snapshot_freq = 500
    config.training.log_freq = 50
    config.training.snapshot_sampling = False
    config.optim.lr = 1e-3
    config.optim.warmup = 200
    return config
