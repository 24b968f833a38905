"""The model and SDE settings of score_sde's released configs, shared by the files that mirror them.

Not run directly. Each function sets the keys exactly as score_sde's config of the same name
(key names are score_sde's), so a score_sde checkpoint loads into the network the config builds
(``models.load_checkpoint``) and score_sde users' ``--config.model.*`` overrides work.
"""
from configs.default_image import get_default_configs


def ve_config():
    """score_sde's VE continuous training and its PC sampler (reverse diffusion + Langevin)."""
    config = get_default_configs()
    config.training.sde = "vesde"
    config.training.continuous = True
    config.training.reduce_mean = False
    config.sampling.predictor = "reverse_diffusion"
    config.sampling.corrector = "langevin"
    return config


def ncsnpp_model(m, **overrides):
    """NCSN++ as score_sde's ve/cifar10_ncsnpp_continuous (4 blocks, residual input pyramid)."""
    m.update(dict(
        name="ncsnpp", output="score", label="sigma",   # scale_by_sigma: the net divides by σ
        scale_by_sigma=True, ema_rate=0.999, normalization="GroupNorm", nonlinearity="swish",
        nf=128, ch_mult=(1, 2, 2, 2), num_res_blocks=4, attn_resolutions=(16,),
        resamp_with_conv=True, conditional=True, fir=True, fir_kernel=(1, 3, 3, 1),
        skip_rescale=True, resblock_type="biggan", progressive="none",
        progressive_input="residual", progressive_combine="sum", attention_type="ddpm",
        embedding_type="fourier", fourier_scale=16.0, init_scale=0.0, conv_size=3))
    m.update(overrides)
    return m


def ve_ncsnpp_256(sigma_max: float):
    """score_sde's 256 px NCSN++ (default_lsun_configs + celebahq / ffhq / church / bedroom)."""
    config = ve_config()
    config.sampling.snr = 0.075
    data = config.data
    data.dataset = "image_folder"     # data.root: a folder of images (only train / eval need it)
    data.root = ""
    data.image_size = 256
    data.num_channels = 3
    data.centered = False
    m = config.model
    m.sigma_min, m.sigma_max, m.num_scales = 0.01, float(sigma_max), 2000
    m.dropout = 0.0
    config.training.batch_size = 64
    config.training.n_iters = 2400001
    ncsnpp_model(m, ch_mult=(1, 1, 2, 2, 2, 2, 2), num_res_blocks=2,
                 progressive="output_skip", progressive_input="input_skip")
    return config


def vp_config(sde: str = "vpsde"):
    """score_sde's VP / sub-VP continuous training (reduce_mean) and Euler–Maruyama sampling."""
    config = get_default_configs()
    config.training.sde = sde
    config.training.continuous = True
    config.training.reduce_mean = True
    config.sampling.predictor = "euler_maruyama"
    config.sampling.corrector = "none"
    config.data.centered = True
    return config


def ddpmpp_model(m, num_res_blocks: int = 4):
    """DDPM++ as score_sde's vp/cifar10_ddpmpp_continuous (its "deep" variant: 8 blocks)."""
    ncsnpp_model(m, fir=False, progressive="none", progressive_input="none",
                 embedding_type="positional", scale_by_sigma=False, ema_rate=0.9999,
                 num_res_blocks=num_res_blocks, dropout=0.1)
    m.name = "ddpmpp"
    m.output, m.label = "eps", "time"
    return m
