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
from configs.adm import guided_diffusion_vp
from configs.default_image import get_default_configs


def get_config():
    config = guided_diffusion_vp(get_default_configs(), image_size=256, num_channels=3, model_channels=128,
                                 attention_resolutions=(16,))
    config.data.dataset = "image_folder"
    return config
