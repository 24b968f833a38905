"""A small DDPM++ on scikit-learn's digits (embedded, 16×16) with the VP SDE: trains on a CPU.

    python main.py --config configs/digits_ddpmpp.py --workdir runs/digits --mode train
    python main.py --config configs/digits_ddpmpp.py --workdir runs/digits --mode sample
    python main.py --config configs/digits_ddpmpp.py --workdir runs/digits --mode eval
"""
from configs.default_image import get_default_configs


def get_config():
    config = get_default_configs()
    config.training.sde = "vpsde"
    config.training.reduce_mean = True
    config.training.batch_size = 64
    config.training.n_iters = 4000
    config.training.n_jitted_steps = 1   # CPU unrolls the steps of a call (run/trainer.py): 1 compiles fastest
    config.training.snapshot_freq = 1000
    config.training.log_freq = 50
    config.training.snapshot_num_samples = 16
    config.sampling.method = "pc"
    config.sampling.predictor = "reverse_diffusion"
    config.sampling.corrector = "none"
    config.sampling.num_samples = 64
    config.eval.batch_size = 64
    config.eval.num_samples = 64
    config.data.dataset = "digits"
    config.data.image_size = 16
    config.data.num_channels = 1
    config.data.centered = True
    config.data.random_flip = False
    config.data.uniform_dequantization = True
    m = config.model
    m.name = "ddpmpp"
    m.output, m.label = "eps", "time"
    m.num_scales = 1000
    m.nf = 32
    m.ch_mult = (1, 2, 2)
    m.num_res_blocks = 1
    m.attn_resolutions = (4,)
    m.dropout = 0.0
    m.ema_rate = 0.999
    m.embedding_type = "positional"
    m.resblock_type = "biggan"
    m.fir = False
    m.skip_rescale = True
    m.scale_by_sigma = False
    config.optim.lr = 1e-3
    config.optim.warmup = 200
    return config
