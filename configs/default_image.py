"""Shared defaults for image configs (score_sde's default_cifar10_configs, same key names).

Not run directly: the files in configs/vp, configs/ve, configs/subvp and the small CPU configs
start from ``get_default_configs()`` and change what their family needs.
"""
import ml_collections


def get_default_configs() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 42
    config.import_path = ""  # --mode import: a peer checkpoint file (score_sde / score_sde_pytorch / guided-diffusion)
    config.prior_dir = ""    # a shipped prior (run/prior.py) read by sample / eval / recon when the workdir has no checkpoint

    config.training = training = ml_collections.ConfigDict()
    training.sde = "vpsde"
    training.schedule = "linear"      # β schedule of vpsde: "linear" or "cosine" (Nichol & Dhariwal)
    training.continuous = True
    training.loss = "dsm"
    training.reduce_mean = False
    training.likelihood_weighting = False
    training.eps = 1e-5
    training.batch_size = 128
    training.n_iters = 1300001
    training.n_jitted_steps = 5
    training.snapshot_freq = 50000
    training.log_freq = 50
    training.keep_checkpoints = 3
    training.snapshot_sampling = True
    training.snapshot_num_samples = 64

    config.sampling = sampling = ml_collections.ConfigDict()
    sampling.method = "pc"
    sampling.predictor = "euler_maruyama"
    sampling.corrector = "none"
    sampling.snr = 0.16
    sampling.n_steps_each = 1
    sampling.noise_removal = True
    sampling.eps = 1e-3
    sampling.num_samples = 64
    sampling.options = ml_collections.ConfigDict()

    config.eval = evaluate = ml_collections.ConfigDict()
    evaluate.batch_size = 64
    evaluate.num_samples = 64
    evaluate.enable_bpd = True
    evaluate.bpd_num_batches = 1

    config.data = data = ml_collections.ConfigDict()
    data.dataset = "tfds:cifar10"
    data.image_size = 32
    data.num_channels = 3
    data.centered = False
    data.random_flip = True
    data.uniform_dequantization = False

    config.model = model = ml_collections.ConfigDict()
    model.name = "ddpmpp"
    model.output = "eps"
    model.label = "time"
    model.sigma_min = 0.01
    model.sigma_max = 50.0
    model.num_scales = 1000
    model.beta_min = 0.1
    model.beta_max = 20.0
    model.dropout = 0.1
    model.ema_rate = 0.9999
    model.dtype = "float32"           # "bfloat16": bfloat16 compute, float32 parameters

    config.optim = optim = ml_collections.ConfigDict()
    optim.lr = 2e-4
    optim.warmup = 5000
    optim.grad_clip = 1.0
    optim.beta1 = 0.9
    optim.eps = 1e-8
    optim.weight_decay = 0.0

    config.parallel = parallel = ml_collections.ConfigDict()
    parallel.num_devices = 0
    parallel.distributed = False
    return config
