"""NCSN++ (continuous) on LSUN bedroom 256×256 with the VE SDE (σ_max 378, N 2000), as score_sde's ve/bedroom_ncsnpp_continuous.

    python main.py --config configs/ve/ncsnpp_bedroom_continuous.py --workdir runs/bedroom --mode import --config.import_path=checkpoint_<N>.pth
    python main.py --config configs/ve/ncsnpp_bedroom_continuous.py --workdir runs/bedroom --mode sample

Released checkpoint: the ``checkpoint_<N>.pth`` (score_sde_pytorch) or ``checkpoint_<N>`` (score_sde) of
score_sde's ``ve/bedroom_ncsnpp_continuous/`` folder (65,574,549 parameters). Training or evaluation reads
images from a folder: ``--config.data.root=/path/to/images``.
"""
from configs.score_sde_family import ve_ncsnpp_256


def get_config():
    return ve_ncsnpp_256(sigma_max=378)
