"""models.conv: the loop-friendly hand-written VJP equals JAX's own gradients for every stride,
padding, dilation and kernel the networks use; outside reverse_mode_convs the convolution is
lax's (forward mode works), inside it is first-order reverse only."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from models.conv import conv2d, reverse_mode_convs

CASES = list(itertools.product(
    [(3, 3), (1, 1), (4, 4)],                                   # kernel
    [(1, 1), (2, 2)],                                           # stride
    ["SAME", "VALID", ((0, 1), (0, 1)), ((2, 1), (1, 2))],      # padding
    [(1, 1), (2, 2)],                                           # lhs dilation (transposed convs)
))


def _ref(x, w, s, p, d):
    pads = p if not isinstance(p, str) else p
    return lax.conv_general_dilated(x, w, s, pads, lhs_dilation=d, dimension_numbers=("NHWC", "HWIO", "NHWC"))


@pytest.mark.parametrize("kernel,stride,padding,dilation", CASES)
def test_hand_written_vjp_equals_jax(kernel, stride, padding, dilation):
    if isinstance(padding, str) and dilation != (1, 1):
        pytest.skip("lax rejects string padding with lhs dilation")
    rng = np.random.default_rng(hash((kernel, stride, str(padding), dilation)) % 2**32)
    x = jnp.asarray(rng.standard_normal((2, 9, 8, 3)), jnp.float32)      # odd and even sides
    w = jnp.asarray(rng.standard_normal(kernel + (3, 5)), jnp.float32)
    y_ref = _ref(x, w, stride, padding, dilation)
    g = jnp.asarray(rng.standard_normal(y_ref.shape), jnp.float32)

    def loss(f):
        return lambda x, w: jnp.sum(f(x, w) * g)
    want = jax.grad(loss(lambda x, w: _ref(x, w, stride, padding, dilation)), argnums=(0, 1))(x, w)
    with reverse_mode_convs():
        y = conv2d(x, w, stride, padding, dilation)
        got = jax.jit(jax.grad(loss(lambda x, w: conv2d(x, w, stride, padding, dilation)), argnums=(0, 1)))(x, w)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
    for a, b in zip(got, want):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * float(jnp.abs(b).max()))


def test_forward_mode_is_lax_outside_and_refused_inside():
    x = jnp.ones((1, 6, 6, 2))
    w = jnp.ones((3, 3, 2, 2)) * 0.1
    f = lambda x: jnp.sum(conv2d(x, w) ** 2)   # noqa: E731
    _, t = jax.jvp(f, (x,), (x,))                 # lax's conv: jvp and second order work
    h = jax.jvp(jax.grad(f), (x,), (x,))[1]
    assert np.isfinite(float(t)) and np.all(np.isfinite(h))
    with reverse_mode_convs():
        with pytest.raises(TypeError, match="custom_vjp"):
            jax.jvp(f, (x,), (x,))
    _, t2 = jax.jvp(f, (x,), (x,))               # the context is over: lax again
    assert float(t2) == pytest.approx(float(t))
