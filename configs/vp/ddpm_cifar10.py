"""The original DDPM (discrete, L_simple) on CIFAR-10, as score_sde's vp/ddpm/cifar10.

    python main.py --config configs/vp/ddpm_cifar10.py --workdir runs/ddpm --mode train

Released checkpoint: the ``checkpoint_<N>.pth`` (score_sde_pytorch) or ``checkpoint_<N>``
(score_sde) of score_sde's ``vp/cifar10_ddpm/`` folder (35,218,947 parameters):

    python main.py --config configs/vp/ddpm_cifar10.py --workdir runs/ddpm --mode import --config.import_path=checkpoint_<N>.pth
"""
from configs.default_image import get_default_configs


def get_config():
    config = get_default_configs()
    config.training.sde = "vpsde"
    config.training.continuous = False
    config.training.loss = "ddpm"
    config.training.reduce_mean = True
    config.sampling.predictor = "ancestral_sampling"
    config.sampling.corrector = "none"
    config.data.centered = True
    m = config.model
    m.name = "ddpm"
    m.output, m.label = "eps", "time"
    m.nf = 128
    m.ch_mult = (1, 2, 2, 2)
    m.num_res_blocks = 2
    m.attn_resolutions = (16,)
    m.resamp_with_conv = True
    m.conditional = True
    m.dropout = 0.1
    return config
