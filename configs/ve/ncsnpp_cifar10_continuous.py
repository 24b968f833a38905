"""NCSN++ (continuous) on CIFAR-10 with the VE SDE, as score_sde's ve/cifar10_ncsnpp_continuous.

    python main.py --config configs/ve/ncsnpp_cifar10_continuous.py --workdir runs/ve_ncsnpp --mode train
"""
from configs.default_image import get_default_configs


def get_config():
    config = get_default_configs()
    config.training.sde = "vesde"
    config.training.continuous = True
    config.training.reduce_mean = False
    config.sampling.predictor = "reverse_diffusion"
    config.sampling.corrector = "langevin"
    m = config.model
    m.name = "ncsnpp"
    m.output, m.label = "score", "sigma"     # scale_by_sigma: the network divides by σ itself
    m.scale_by_sigma = True
    m.sigma_min, m.sigma_max, m.num_scales = 0.01, 50.0, 1000
    m.ema_rate = 0.999
    m.nf = 128
    m.ch_mult = (1, 2, 2, 2)
    m.num_res_blocks = 4
    m.attn_resolutions = (16,)
    m.resamp_with_conv = True
    m.conditional = True
    m.fir = True
    m.fir_kernel = (1, 3, 3, 1)
    m.skip_rescale = True
    m.resblock_type = "biggan"
    m.progressive = "none"
    m.progressive_input = "residual"
    m.progressive_combine = "sum"
    m.embedding_type = "fourier"
    m.fourier_scale = 16.0
    m.init_scale = 0.0
    m.dropout = 0.1
    return config
