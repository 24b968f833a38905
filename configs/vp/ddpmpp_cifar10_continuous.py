"""DDPM++ (continuous) on CIFAR-10 with the VP SDE, as score_sde's vp/cifar10_ddpmpp_continuous.

    python main.py --config configs/vp/ddpmpp_cifar10_continuous.py --workdir runs/vp_ddpmpp --mode train

Needs tensorflow-datasets with cifar10 built (``pip install tensorflow-datasets; tfds build cifar10``).
Released checkpoint: score_sde_pytorch's ``vp/cifar10_ddpmpp_continuous/checkpoint_8.pth`` or
score_sde's Flax ``checkpoint_8`` (4 residual blocks per level, 61,804,419 parameters; the
8-block network is configs/vp/ddpmpp_cifar10_deep_continuous.py):

    python main.py --config configs/vp/ddpmpp_cifar10_continuous.py --workdir runs/vp_ddpmpp --mode import --config.import_path=checkpoint_8.pth
"""
from configs.score_sde_family import ddpmpp_model, vp_config


def get_config():
    config = vp_config("vpsde")
    ddpmpp_model(config.model, num_res_blocks=4)
    return config
