"""DDPM++ (continuous) on CIFAR-10 with the sub-VP SDE, as score_sde's subvp/cifar10_ddpmpp_continuous.

    python main.py --config configs/subvp/ddpmpp_cifar10_continuous.py --workdir runs/subvp_ddpmpp --mode train
"""
from configs.vp.ddpmpp_cifar10_continuous import get_config as vp_config


def get_config():
    config = vp_config()
    config.training.sde = "subvpsde"
    return config
