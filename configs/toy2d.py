"""Default 2-D config: an MLP score model of an 8-mode Gaussian ring under the VP SDE.

    python main.py --config configs/toy2d.py --workdir runs/toy2d --mode train
    python main.py --config configs/toy2d.py --workdir runs/toy2d --mode sample
    python main.py --config configs/toy2d.py --workdir runs/toy2d --mode eval

Any key can be overridden on the command line, e.g. ``--config.training.n_iters=2000
--config.training.sde=vesde --config.data.dataset=checkerboard``.
"""
import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 42
    config.prior_dir = ""    # a shipped prior (run/prior.py) read by sample / eval / recon when the workdir has no checkpoint

    config.training = training = ml_collections.ConfigDict()
    training.sde = "vpsde"              # vpsde | subvpsde | vesde
    training.schedule = "linear"        # β schedule of vpsde: linear | cosine (Nichol & Dhariwal)
    training.continuous = True
    training.loss = "dsm"               # dsm | ddpm | smld | ssm
    training.reduce_mean = True
    training.likelihood_weighting = False
    training.eps = 1e-5
    training.batch_size = 512
    training.n_iters = 6000
    training.n_jitted_steps = 50        # train steps per compiled call (lax.scan)
    training.snapshot_freq = 2000       # checkpoint every k steps
    training.log_freq = 200
    training.keep_checkpoints = 3
    training.snapshot_sampling = False  # PNG of EMA samples at every checkpoint

    config.sampling = sampling = ml_collections.ConfigDict()
    sampling.method = "pc"
    sampling.predictor = "reverse_diffusion"
    sampling.corrector = "langevin"
    sampling.snr = 0.16
    sampling.n_steps_each = 1
    sampling.noise_removal = True
    sampling.eps = 1e-3
    sampling.num_samples = 4000
    sampling.options = ml_collections.ConfigDict()   # extra keyword options for samplers.sample

    config.eval = evaluate = ml_collections.ConfigDict()
    evaluate.batch_size = 4000
    evaluate.num_samples = 4000

    config.data = data = ml_collections.ConfigDict()
    data.dataset = "gmm_ring"           # gmm_ring | checkerboard | swiss_roll | moons

    config.model = model = ml_collections.ConfigDict()
    model.name = "mlp"
    model.hidden = 128
    model.num_layers = 3
    model.embedding_type = "positional"
    model.embed_dim = 64
    model.dropout = 0.0
    model.output = "eps"                # network predicts ε; score = -ε / σ_t
    model.label = "time"                # conditioned on t·(N-1)
    model.ema_rate = 0.999
    model.beta_min = 0.1
    model.beta_max = 20.0
    model.sigma_min = 0.01
    model.sigma_max = 10.0
    model.num_scales = 1000

    config.optim = optim = ml_collections.ConfigDict()
    optim.lr = 2e-3
    optim.warmup = 200
    optim.grad_clip = 1.0
    optim.beta1 = 0.9
    optim.eps = 1e-8
    optim.weight_decay = 0.0

    config.parallel = parallel = ml_collections.ConfigDict()
    parallel.num_devices = 0            # 0: all devices; data axis of the mesh
    parallel.distributed = False        # call jax.distributed.initialize() (multi-host)
    return config
