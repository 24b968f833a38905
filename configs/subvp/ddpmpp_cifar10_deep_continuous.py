"""DDPM++ deep (8 blocks per level) on CIFAR-10, sub-VP SDE: score_sde's subvp/cifar10_ddpmpp_deep_continuous.

    python main.py --config configs/subvp/ddpmpp_cifar10_deep_continuous.py --workdir runs/subvp_ddpmpp_deep --mode train

Released checkpoint: the ``checkpoint_<N>.pth`` / ``checkpoint_<N>`` of score_sde's
``subvp/cifar10_ddpmpp_deep_continuous/`` folder (106,632,579 parameters):

    python main.py --config configs/subvp/ddpmpp_cifar10_deep_continuous.py --workdir runs/subvp_ddpmpp_deep --mode import --config.import_path=checkpoint_<N>.pth
"""
from configs.score_sde_family import ddpmpp_model, vp_config


def get_config():
    config = vp_config("subvpsde")
    config.training.n_iters = 950001
    ddpmpp_model(config.model, num_res_blocks=8)
    return config
