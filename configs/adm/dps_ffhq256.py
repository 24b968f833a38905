"""DPS's FFHQ 256 prior (Chung et al., ICLR 2023, "Diffusion Posterior Sampling"): guided-
diffusion's ADM at 256×256×3, learned σ (6 outputs), VP linear chain β 1e-4 → 0.02 over 1000
steps, as DPS's ``configs/model_config.yaml`` (``num_channels: 128`` is ADM's model_channels;
``attention_resolutions: 16`` is the downsampling factor 256 // 16 = 16; 93,563,910 parameters).

Expects DPS's released ``ffhq_10m.pt`` (a plain ``UNetModel.state_dict()``):

    python main.py --config configs/adm/dps_ffhq256.py --workdir runs/ffhq --mode import --config.import_path=ffhq_10m.pt
    python main.py --config configs/adm/dps_ffhq256.py --workdir runs/ffhq --mode sample --config.sampling.method=dpm_solver_pp

In Python, for inverse problems on faces (e.g. ``linops.InpaintingOperator``):
``samplers.posterior_sample(rng, sde, score_fn, op, y, method="dps")`` with
``score_fn = models.make_score_fn(...)`` of ``models.load_checkpoint("ffhq_10m.pt", get_config())``.
"""
import ml_collections

from configs.default_image import get_default_configs


def get_config():
    config = get_default_configs()
    t = config.training
    t.sde, t.continuous, t.loss, t.reduce_mean = "vpsde", False, "ddpm", True
    t.batch_size = 4
    config.sampling.predictor, config.sampling.corrector = "ancestral_sampling", "none"
    data = config.data
    data.dataset, data.image_size, data.num_channels, data.centered = "image_folder", 256, 3, True
    config.model = m = ml_collections.ConfigDict()
    m.name = "adm"
    m.output, m.label = "eps", "time"
    m.beta_min, m.beta_max, m.num_scales = 0.1, 20.0, 1000   # β_i = linspace(1e-4, 0.02, 1000)
    m.sigma_min, m.sigma_max = 0.01, 50.0                    # unused (VP); kept for the SDE builder
    m.ema_rate = 0.9999
    m.dtype = "float32"
    m.image_size, m.num_channels, m.centered = 256, 3, True
    m.model_channels = 128
    m.out_channels = 6                                       # learn_sigma: ε and v for 3 channels
    m.learn_sigma = True
    m.num_res_blocks = 1
    m.attention_resolutions = (16,)
    m.channel_mult = (1, 1, 2, 2, 4, 4)
    m.num_heads = 4
    m.num_head_channels = 64
    m.num_heads_upsample = -1
    m.use_scale_shift_norm = True
    m.resblock_updown = True
    m.use_new_attention_order = False
    m.dropout = 0.0
    return config
