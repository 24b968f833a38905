"""score-MRI's fastMRI knee prior (Chung & Ye 2022): NCSN++ at 320×320, 1 channel, VE SDE
(σ_min 0.01, σ_max 378, N 2000), data in [0, 1] (not centered), as its
configs/ve/fastmri_knee_320_ncsnpp_continuous.py.

Expects score-MRI's released ``weights/checkpoint_95.pth`` (61,433,601 parameters):

    python main.py --config configs/mri/score_mri_knee320.py --workdir runs/knee --mode import --config.import_path=checkpoint_95.pth
    python main.py --config configs/mri/score_mri_knee320.py --workdir runs/knee --mode recon --config.recon.fastmri_path=/data/file1000001.h5
    python main.py --config configs/mri/score_mri_knee320.py --workdir runs/knee --mode sample --config.sampling.method=dpm_solver_pp

In Python: ``models.load_checkpoint("checkpoint_95.pth", get_config())``. The prior is real
(magnitude-free): complex fastMRI slices are reconstructed with it applied to the real and
imaginary parts (``recon.complex_prior = "auto"``), as score-MRI's single-coil script does.
Without ``recon.fastmri_path`` recon runs on the embedded brain slices resized to 320 px (a
smoke test: out of the knee prior's distribution).
"""
from configs.mri.brain_recon import get_config as brain_recon_config
from configs.score_sde_family import ncsnpp_model


def get_config():
    config = brain_recon_config()
    t = config.training
    t.sde, t.continuous, t.reduce_mean, t.loss = "vesde", True, False, "dsm"
    s = config.sampling
    s.predictor, s.corrector, s.snr = "reverse_diffusion", "langevin", 0.16
    data = config.data
    data.image_size, data.num_channels, data.centered = 320, 1, False
    m = config.model
    ncsnpp_model(m, dropout=0.0)
    m.sigma_min, m.sigma_max, m.num_scales = 0.01, 378.0, 2000
    m.image_size, m.num_channels, m.centered = 320, 1, False
    config.recon.method = "score_mri"
    config.recon.num_slices, config.recon.slice_batch, config.recon.n_samples = 1, 1, 1
    return config
