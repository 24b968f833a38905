"""NCSN++ (continuous) on CIFAR-10 with the VE SDE, as score_sde's ve/cifar10_ncsnpp_continuous.

    python main.py --config configs/ve/ncsnpp_cifar10_continuous.py --workdir runs/ve_ncsnpp --mode train

Released checkpoint: score_sde_pytorch's ``ve/cifar10_ncsnpp_continuous/checkpoint_24.pth`` or
score_sde's Flax ``checkpoint_24`` (62,758,915 parameters). Load it with
``models.load_checkpoint(path, get_config())``, or turn it into a workdir:

    python main.py --config configs/ve/ncsnpp_cifar10_continuous.py --workdir runs/ve_ncsnpp --mode import --config.import_path=checkpoint_24.pth
"""
from configs.score_sde_family import ncsnpp_model, ve_config


def get_config():
    config = ve_config()
    ncsnpp_model(config.model)
    return config
