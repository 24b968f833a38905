"""DDPM++ deep (8 blocks per level) on CIFAR-10, VP SDE: score_sde's vp/cifar10_ddpmpp_deep_continuous.

    python main.py --config configs/vp/ddpmpp_cifar10_deep_continuous.py --workdir runs/vp_ddpmpp_deep --mode train

Released checkpoint: the ``checkpoint_<N>.pth`` / ``checkpoint_<N>`` of score_sde's
``vp/cifar10_ddpmpp_deep_continuous/`` folder (106,632,579 parameters):

    python main.py --config configs/vp/ddpmpp_cifar10_deep_continuous.py --workdir runs/vp_ddpmpp_deep --mode import --config.import_path=checkpoint_<N>.pth
"""
from configs.score_sde_family import ddpmpp_model, vp_config


def get_config():
    config = vp_config("vpsde")
    config.training.n_iters = 950001
    ddpmpp_model(config.model, num_res_blocks=8)
    return config
