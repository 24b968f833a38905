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


def test_tree_all_finite_finds_one_bad_value_in_any_float_leaf():
    import jax.numpy as jnp
    from run.train import tree_all_finite
    tree = {"w": jnp.ones((3, 4)), "b": jnp.zeros(5, jnp.bfloat16), "z": jnp.ones(2, jnp.complex64),
            "count": jnp.array([7, 8], jnp.int32), "s": jnp.float32(2.0)}
    assert bool(tree_all_finite(tree))
    for name, index in [("w", (2, 3)), ("b", (0,)), ("z", (1,)), ("s", ())]:
        for bad in (jnp.nan, jnp.inf, -jnp.inf):
            broken = dict(tree, **{name: tree[name].at[index].set(bad)})
            assert not bool(tree_all_finite(broken)), (name, bad)
    assert bool(tree_all_finite({"count": jnp.array([1], jnp.int32)}))   # no float leaves
    assert bool(tree_all_finite({}))
