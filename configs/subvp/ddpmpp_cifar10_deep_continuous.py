"""DDPM++ deep (8 blocks per level) on CIFAR-10, sub-VP SDE: score_sde's subvp/cifar10_ddpmpp_deep_continuous.

    python main.py --config configs/subvp/ddpmpp_cifar10_deep_continuous.py --workdir runs/subvp_ddpmpp_deep --mode train

Released checkpoint: the ``checkpoint_<N>.pth`` / ``checkpoint_<N>`` of score_sde's
``subvp/cifar10_ddpmpp_deep_continuous/`` folder (106,632,579 parameters), e.g.
``--mode import --config.import_path=checkpoint_<N>.pth``.
"""
from configs.vp.ddpmpp_cifar10_deep_continuous import get_config as vp_config


def get_config():
    config = vp_config()
    config.training.sde = "subvpsde"
    return config
