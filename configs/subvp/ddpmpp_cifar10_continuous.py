"""DDPM++ (continuous) on CIFAR-10 with the sub-VP SDE, as score_sde's subvp/cifar10_ddpmpp_continuous.

    python main.py --config configs/subvp/ddpmpp_cifar10_continuous.py --workdir runs/subvp_ddpmpp --mode train

Released checkpoint: score_sde_pytorch's ``subvp/cifar10_ddpmpp_continuous/checkpoint_26.pth`` or
score_sde's Flax ``checkpoint_26`` (61,804,419 parameters), e.g.
``--mode import --config.import_path=checkpoint_26.pth``.
"""
from configs.vp.ddpmpp_cifar10_continuous import get_config as vp_config


def get_config():
    config = vp_config()
    config.training.sde = "subvpsde"
    return config
