"""DDPM++ (continuous) on CIFAR-10 with the VP SDE, as score_sde's vp/cifar10_ddpmpp_continuous.

    python main.py --config configs/vp/ddpmpp_cifar10_continuous.py --workdir runs/vp_ddpmpp --mode train

Needs tensorflow-datasets with cifar10 built (``pip install tensorflow-datasets; tfds build cifar10``).
"""
from configs.default_image import get_default_configs


def get_config():
    config = get_default_configs()
    config.training.sde = "vpsde"
    config.training.continuous = True
    config.training.reduce_mean = True
    config.sampling.predictor = "euler_maruyama"
    config.sampling.corrector = "none"
    m = config.model
    m.name = "ddpmpp"
    m.output, m.label = "eps", "time"
    m.scale_by_sigma = False
    m.ema_rate = 0.9999
    m.normalization = "GroupNorm"
    m.nonlinearity = "swish"
    m.nf = 128
    m.ch_mult = (1, 2, 2, 2)
    m.num_res_blocks = 8
    m.attn_resolutions = (16,)
    m.resamp_with_conv = True
    m.conditional = True
    m.fir = False
    m.skip_rescale = True
    m.resblock_type = "biggan"
    m.progressive = "none"
    m.progressive_input = "none"
    m.progressive_combine = "sum"
    m.embedding_type = "positional"
    m.init_scale = 0.0
    m.dropout = 0.1
    return config
