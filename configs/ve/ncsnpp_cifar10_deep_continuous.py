"""NCSN++ deep (8 blocks per level) on CIFAR-10, VE SDE: score_sde's ve/cifar10_ncsnpp_deep_continuous.

    python main.py --config configs/ve/ncsnpp_cifar10_deep_continuous.py --workdir runs/ve_ncsnpp_deep --mode train

Released checkpoint: the ``checkpoint_<N>.pth`` (score_sde_pytorch) or ``checkpoint_<N>`` (score_sde)
of score_sde's ``ve/cifar10_ncsnpp_deep_continuous/`` folder (107,587,075 parameters):

    python main.py --config configs/ve/ncsnpp_cifar10_deep_continuous.py --workdir runs/ve_ncsnpp_deep --mode import --config.import_path=checkpoint_<N>.pth
"""
from configs.score_sde_family import ncsnpp_model, ve_config


def get_config():
    config = ve_config()
    config.training.n_iters = 950001
    ncsnpp_model(config.model, num_res_blocks=8)
    return config
