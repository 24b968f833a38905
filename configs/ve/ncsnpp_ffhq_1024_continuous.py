"""NCSN++ (continuous) on FFHQ 1024×1024 with the VE SDE (σ_max 1348, N 2000), as score_sde's
ve/ffhq_ncsnpp_continuous.

    python main.py --config configs/ve/ncsnpp_ffhq_1024_continuous.py --workdir runs/ffhq1024 --mode import --config.import_path=checkpoint_<N>.pth
    python main.py --config configs/ve/ncsnpp_ffhq_1024_continuous.py --workdir runs/ffhq1024 --mode sample

Released checkpoint: the ``checkpoint_<N>.pth`` (score_sde_pytorch) or ``checkpoint_<N>`` (score_sde) of
score_sde's ``ve/ffhq_1024_ncsnpp_continuous/`` folder (105,785,896 parameters). Training or
evaluation reads images from a folder: ``--config.data.root=/path/to/images``.
"""
from configs.score_sde_family import ncsnpp_model, ve_ncsnpp_256


def get_config():
    config = ve_ncsnpp_256(sigma_max=1348)
    t = config.training
    t.batch_size, t.n_iters = 8, 2400001
    t.reduce_mean = True
    config.sampling.snr = 0.15
    config.data.image_size = 1024
    m = config.model
    ncsnpp_model(m, nf=16, ch_mult=(1, 2, 4, 8, 16, 32, 32, 32), num_res_blocks=1, dropout=0.0,
                 ema_rate=0.9999, progressive="output_skip", progressive_input="input_skip")
    return config
