"""guided-diffusion's ADM (``UNetModel``) as DDS and DPS release it: what their configs share."""
import ml_collections


def guided_diffusion_vp(config, image_size: int, num_channels: int, model_channels: int,
                        attention_resolutions: tuple):
    """Set ``config`` (a default image config) to a learned-σ ADM on guided-diffusion's linear VP
    chain (β 1e-4 → 0.02 over 1000 steps, ε output, ancestral sampling); returns ``config``.
    The arguments are the ones the released checkpoints differ in (ADM's own names)."""
    t = config.training
    t.sde, t.continuous, t.loss, t.reduce_mean = "vpsde", False, "ddpm", True
    t.batch_size = 4
    config.sampling.predictor, config.sampling.corrector = "ancestral_sampling", "none"
    data = config.data
    data.image_size, data.num_channels, data.centered = image_size, num_channels, True
    config.model = m = ml_collections.ConfigDict()
    m.name = "adm"
    m.output, m.label = "eps", "time"
    m.beta_min, m.beta_max, m.num_scales = 0.1, 20.0, 1000   # β_i = linspace(1e-4, 0.02, 1000)
    m.sigma_min, m.sigma_max = 0.01, 50.0                    # unused (VP); kept for the SDE builder
    m.ema_rate = 0.9999
    m.dtype = "float32"
    m.image_size, m.num_channels, m.centered = image_size, num_channels, True
    m.model_channels = model_channels
    m.out_channels = 2 * num_channels                        # learn_sigma: ε and v per channel
    m.learn_sigma = True
    m.num_res_blocks = 1
    m.attention_resolutions = tuple(attention_resolutions)
    m.channel_mult = (1, 1, 2, 2, 4, 4)
    m.num_heads = 4
    m.num_head_channels = 64
    m.num_heads_upsample = -1
    m.use_scale_shift_norm = True
    m.resblock_updown = True
    m.use_new_attention_order = False
    m.dropout = 0.0
    return config
