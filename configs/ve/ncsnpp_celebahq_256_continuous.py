"""NCSN++ (continuous) on CelebA-HQ 256×256 with the VE SDE (σ_max 348, N 2000), as score_sde's ve/celebahq_256_ncsnpp_continuous.

    python main.py --config configs/ve/ncsnpp_celebahq_256_continuous.py --workdir runs/celebahq_256 --mode import --config.import_path=checkpoint_<N>.pth
    python main.py --config configs/ve/ncsnpp_celebahq_256_continuous.py --workdir runs/celebahq_256 --mode sample

Released checkpoint: the ``checkpoint_<N>.pth`` (score_sde_pytorch) or ``checkpoint_<N>`` (score_sde) of
score_sde's ``ve/celebahq_256_ncsnpp_continuous/`` folder (65,574,549 parameters). Training or evaluation reads
images from a folder: ``--config.data.root=/path/to/images``.
"""
from configs.score_sde_family import ve_ncsnpp_256


def get_config():
    return ve_ncsnpp_256(sigma_max=348)
