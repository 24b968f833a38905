"""DDS's fastMRI knee prior (Chung, Lee & Ye 2024, "Decomposed Diffusion Sampler"): guided-
diffusion's ADM at 320×320 on complex images as 2 channels (real, imaginary), learned σ
(4 outputs), VP linear chain β 1e-4 → 0.02 over 1000 steps, as HJ-harry/DDS's
configs/vp/fastmri_knee_320_complex.yml (DDS's ``num_channels: 256`` is ADM's model_channels;
its ``attention_resolutions: "16"`` is the downsampling factor 320 // 16 = 20, which no level
reaches, so only the middle block attends, exactly as DDS builds it).

Expects DDS's released ``fastmri_knee_320_complex_1m.pt`` (a plain ``UNetModel.state_dict()``;
361,428,228 parameters):

    python main.py --config configs/mri/dds_knee_adm.py --workdir runs/dds_knee --mode import --config.import_path=fastmri_knee_320_complex_1m.pt
    python main.py --config configs/mri/dds_knee_adm.py --workdir runs/dds_knee --mode recon --config.recon.fastmri_path=/data/file1000033.h5

In Python: ``models.load_checkpoint("fastmri_knee_320_complex_1m.pt", get_config())``; the network
takes timesteps t in [0, 999] as floats (``model.label = "time"`` with ``training.continuous =
False``), and ``models.split_adm_output`` gives its ε and variance outputs.
"""
import ml_collections

from configs.mri.brain_recon import get_config as brain_recon_config


def get_config():
    config = brain_recon_config()
    t = config.training
    t.sde, t.continuous, t.loss, t.reduce_mean = "vpsde", False, "ddpm", True
    t.batch_size = 4
    config.sampling.predictor, config.sampling.corrector = "ancestral_sampling", "none"
    data = config.data
    data.image_size, data.num_channels, data.centered = 320, 2, True
    config.model = m = ml_collections.ConfigDict()
    m.name = "adm"
    m.output, m.label = "eps", "time"
    m.beta_min, m.beta_max, m.num_scales = 0.1, 20.0, 1000   # β_i = linspace(1e-4, 0.02, 1000)
    m.sigma_min, m.sigma_max = 0.01, 50.0                    # unused (VP); kept for the SDE builder
    m.ema_rate = 0.9999
    m.dtype = "float32"
    m.image_size, m.num_channels, m.centered = 320, 2, True
    m.model_channels = 256
    m.out_channels = 4                                       # learn_sigma: ε and v for 2 channels
    m.learn_sigma = True
    m.num_res_blocks = 1
    m.attention_resolutions = (20,)
    m.channel_mult = (1, 1, 2, 2, 4, 4)
    m.num_heads = 4
    m.num_head_channels = 64
    m.num_heads_upsample = -1
    m.use_scale_shift_norm = True
    m.resblock_updown = True
    m.use_new_attention_order = False
    m.dropout = 0.0
    r = config.recon
    r.method = "dds"
    r.complex_prior = "complex"                              # the 2-channel (re, im) prior
    r.dds.num_steps = 50
    r.num_slices, r.slice_batch, r.n_samples = 1, 1, 1
    return config
