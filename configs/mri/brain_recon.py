"""A brain-MRI prior (DDPM++ at 32 x 32, VP SDE) and its use for accelerated MRI reconstruction.

Train the prior on the embedded MNI152 brain slices (training split), then reconstruct held-out
test slices from simulated undersampled k-space (4x equispaced 1-D mask, single coil) with
score-MRI; zero-filled and TV compressed sensing are computed alongside:

    python main.py --config configs/mri/brain_recon.py --workdir runs/brain --mode train
    python main.py --config configs/mri/brain_recon.py --workdir runs/brain --mode recon

Results land in ``runs/brain/recon/<method>_<mask><acc>x/``. Other settings from the command line:

    --config.recon.method=dds --config.recon.dds.num_steps=100        # each method has its section
    --config.recon.mask.kind=poisson --config.recon.mask.acceleration=8
    --config.recon.multicoil=True --config.recon.num_coils=8          # birdcage coil maps, SENSE
    --config.recon.noise_std=0.01                                     # complex Gaussian k-space noise
    --config.recon.fastmri_path=/data/file1000001.h5                  # real k-space, retrospectively undersampled
    --config.recon.cs_method=tv,wavelet,wavelet_db4                   # several CS baselines, each λ tuned
    --config.recon.cs_tune=False --config.recon.cs_lam=0.005          # a fixed λ instead of the tuned one
    --config.recon.noise_std=0.01 --config.recon.tune_gamma=False     # dds: noise-derived weight, no tuned floor
    python bench/bench_mri.py --workdir runs/brain                    # 4x / 8x equispaced, 8x Poisson table

The prior is trained on magnitude images in [0, 1] (``data.centered=False``: the forward model
stays linear with no offset). fastMRI images have a phase: ``recon.complex_prior="auto"`` then
applies this real prior to the real and imaginary parts separately (Chung & Ye's "split").
Training takes ~1 h on one GPU at these settings (200k samples seen at batch 128 is plenty for
32 px); on a CPU lower ``training.n_iters`` for a smoke test.
"""
import ml_collections

from configs.default_image import get_default_configs


def get_config() -> ml_collections.ConfigDict:
    config = get_default_configs()
    training = config.training
    training.reduce_mean = True
    training.n_iters = 60000
    training.n_jitted_steps = 1         # CPU unrolls the steps of a call (run/trainer.py): 1 compiles fastest
    training.snapshot_freq = 5000
    training.log_freq = 100

    config.sampling.predictor = "reverse_diffusion"
    config.sampling.corrector = "langevin"

    data = config.data
    data.dataset = "brain"
    data.image_size = 32
    data.num_channels = 1
    data.centered = False
    data.random_flip = True
    data.contrasts = ("t1", "t2", "pd")

    model = config.model
    model.name = "ddpmpp"               # NCSN++'s U-Net in its VP form (score_sde's "ncsnpp" + VP settings)
    model.output = "eps"
    model.label = "time"
    model.nf = 64
    model.ch_mult = (1, 2, 2)
    model.num_res_blocks = 2
    model.attn_resolutions = (8,)
    model.dropout = 0.1
    model.resblock_type = "biggan"
    model.embedding_type = "positional"
    model.fir = False
    model.skip_rescale = True
    model.scale_by_sigma = False
    model.centered = False
    model.image_size = 32
    model.num_channels = 1
    model.ema_rate = 0.999

    config.optim.warmup = 2000

    config.recon = recon = ml_collections.ConfigDict()
    recon.method = "score_mri"          # score_mri | projection | dps | dds | mmps
    # Each method's options (see samplers/posterior/<method>.py); num_steps = 0: the SDE's N levels.
    # The measurement noise level comes from recon.noise_std.
    recon.score_mri = ml_collections.ConfigDict(dict(
        num_steps=0, predictor="reverse_diffusion", corrector="langevin", snr=0.16, n_steps=1,
        dc_iters=5, multicoil="sense"))     # multicoil: sense | coil_by_coil
    recon.projection = ml_collections.ConfigDict(dict(
        num_steps=0, predictor="reverse_diffusion", corrector="langevin", snr=0.16, n_steps=1,
        lam=1.0, dc_iters=5))               # lam: Song et al.'s λ
    recon.dps = ml_collections.ConfigDict(dict(num_steps=1000, zeta=1.0, eta=1.0))
    # eta 1 + clip: trained priors. final_cg_iters: the output's data-consistency solve; measured on
    # the shipped 128 px prior, 8 noiseless coils, Poisson 8x, 2 slices: 5 / 30 / 100 / 300 CG steps
    # 54.7 / 58.9 / 62.5 / 66.2 dB, whole run 23 / 22 / 25 / 28 s (single coil: CG is exact in 3 steps).
    recon.dds = ml_collections.ConfigDict(dict(num_steps=50, eta=1.0, cg_iters=5, final_cg_iters=300, clip_x0=1.5))
    recon.mmps = ml_collections.ConfigDict(dict(num_steps=200, predictor="euler_maruyama", corrector="none",
                                                cg_iters=5))
    recon.options = ml_collections.ConfigDict()   # extra options on top (Python use)
    recon.complex_prior = "auto"        # auto | real (False) | complex (True: a 2-channel prior) | split
    recon.n_samples = 4                 # posterior samples per slice: mean = recon, std = uncertainty
    recon.num_slices = 8                # held-out slices, evenly spaced over the test split
    recon.slice_batch = 8               # slices per compiled call (x n_samples samples each)
    recon.noise_std = 0.0               # std of the real and of the imaginary part of each k-space sample
    recon.mask = ml_collections.ConfigDict(dict(kind="equispaced", acceleration=4.0,
                                                center_fraction=0.08, seed=0))
    recon.multicoil = False
    recon.num_coils = 8
    recon.fastmri_path = ""             # fastMRI .h5, fully sampled (or a folder: its first good one); "": simulate
    recon.downsample = False            # fastMRI files: False = the file's own resolution (must equal
                                        # data.image_size); True = a data.image_size view of its field of view
    recon.cs_method = "tv"              # tv | wavelet (Haar) | wavelet_db4, or several: "tv,wavelet"
    recon.cs_iters = 200                # Chambolle-Pock iterations (the objective is in metrics.json)
    recon.cs_lam = 0.0                  # > 0: this λ; 0: tuned (cs_tune) or 0.01 max|A^H y|
    recon.cs_tune = True                # λ from a grid search on validation slices of the training split
    recon.cs_val_slices = 8             # ... this many (never test slices)
    recon.tune_gamma = True             # noisy data: dds's data-consistency weight from the same slices
    recon.seed = 0
    recon.name = ""                     # output folder under <workdir>/recon/; "" -> <method>_<mask><acc>x
    recon.figures = True
    return config
