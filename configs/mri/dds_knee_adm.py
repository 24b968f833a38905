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
from configs.adm import guided_diffusion_vp
from configs.mri.brain_recon import get_config as brain_recon_config


def get_config():
    config = guided_diffusion_vp(brain_recon_config(), image_size=320, num_channels=2, model_channels=256,
                                 attention_resolutions=(20,))
    r = config.recon
    r.method = "dds"
    r.complex_prior = "complex"                              # the 2-channel (re, im) prior
    r.dds.num_steps = 50
    r.num_slices, r.slice_batch, r.n_samples = 1, 1, 1
    return config
