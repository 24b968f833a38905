"""Initial parameters: compiled for compile speed (run.context.ONE_SHOT_COMPILE), bitwise XLA's default."""
import jax
import numpy as np

from configs.digits_ddpmpp import get_config
from run import builders
from run.context import RunContext


def test_fast_compiled_init_gives_bitwise_the_default_parameters():
    config = get_config()
    config.data.image_size = 8
    m = config.model
    m.nf, m.ch_mult, m.num_res_blocks, m.attn_resolutions = 8, (1,), 1, ()
    ctx = RunContext(config)
    fast = ctx.init_params()
    default = jax.jit(lambda k: builders.init_params(ctx.model, ctx.shape, k))(ctx.init_key)
    assert jax.tree.structure(fast) == jax.tree.structure(default)
    leaves = list(zip(jax.tree.leaves(fast), jax.tree.leaves(default)))
    assert len(leaves) > 50   # a U-Net's worth of kernels, biases and norms
    for a, b in leaves:
        assert a.dtype == b.dtype and np.array_equal(np.asarray(a), np.asarray(b))
    # and they are a real initialisation: random kernels, not zeros
    assert any(np.std(np.asarray(a)) > 0.01 for a, _ in leaves)
