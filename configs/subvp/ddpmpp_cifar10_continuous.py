"""DDPM++ (continuous) on CIFAR-10 with the sub-VP SDE, as score_sde's subvp/cifar10_ddpmpp_continuous.

    python main.py --config configs/subvp/ddpmpp_cifar10_continuous.py --workdir runs/subvp_ddpmpp --mode train

Released checkpoint: score_sde_pytorch's ``subvp/cifar10_ddpmpp_continuous/checkpoint_26.pth`` or
score_sde's Flax ``checkpoint_26`` (61,804,419 parameters):

    python main.py --config configs/subvp/ddpmpp_cifar10_continuous.py --workdir runs/subvp_ddpmpp --mode import --config.import_path=checkpoint_26.pth
"""
from configs.score_sde_family import ddpmpp_model, vp_config


def get_config():
    config = vp_config("subvpsde")
    ddpmpp_model(config.model, num_res_blocks=4)
    return config
