"""Gaussian inverse problems with closed-form posteriors (shared by the posterior tests), and
tests of the prior/operator adapters they rely on."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mri
import samplers
import sde_lib
from samplers.posterior import PriorView, from_complex, to_complex


def smooth_covariance(shape, seed=0, length=1.5, var=0.6, nugget=0.02):
    """A random SPD covariance over the pixels (and channels) of ``shape``: a squared-exponential
    kernel in pixel distance, plus a random low-rank-ish part and a nugget."""
    rng = np.random.default_rng(seed)
    idx = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1).reshape(-1, len(shape))
    d2 = (((idx[:, None, :2] - idx[None, :, :2]) ** 2).sum(-1)).astype(np.float64)
    same_channel = (idx[:, None, 2:] == idx[None, :, 2:]).all(-1) if len(shape) > 2 else True
    n = idx.shape[0]
    k = var * np.exp(-d2 / (2 * length**2)) * np.where(same_channel, 1.0, 0.5)
    g = rng.standard_normal((n, n)) / np.sqrt(n)
    return k + 0.1 * g @ g.T + nugget * np.eye(n)


def gaussian_prior(shape, seed=0, mean=0.5):
    """``GaussianMixture.gaussian`` over tensors of ``shape`` (one example, no batch axis)."""
    rng = np.random.default_rng(seed + 1)
    d = int(np.prod(shape))
    return sde_lib.GaussianMixture.gaussian(mean + 0.3 * rng.standard_normal(d), smooth_covariance(shape, seed))


def dense_model(operator, y, complex_prior=False):
    """The real matrix of ``Ã`` for one example (its whole prior tensor, flattened, -> the
    measurements as stacked real and imaginary parts), and the map from measurements to the same
    rows. Rows that are identically zero (e.g. the imaginary part of a real image's DC sample)
    are dropped. With ``complex_prior="split"`` the prior tensor is [Re image, Im image]."""
    view = PriorView(operator, y[:1], complex_prior)
    shape = view.prior_shape
    d = int(np.prod(shape))
    basis = jnp.eye(d, dtype=jnp.float32).reshape((d,) + shape)
    cols = jax.vmap(lambda e: view.forward(e)[0])(basis)                 # [d, ...measurements]
    m = np.asarray(cols).reshape(d, -1).T
    stacked = np.concatenate([m.real, m.imag], 0).astype(np.float64)
    keep = np.linalg.norm(stacked, axis=1) > 1e-6

    def rows(meas):
        meas = np.asarray(meas).reshape(-1)
        return np.concatenate([meas.real, meas.imag])[keep].astype(np.float64)
    return stacked[keep], rows


def measure(operator, x, noise_std, seed=0):
    """y = A x + noise on the measured entries (real and imaginary parts each noise_std)."""
    y = np.asarray(operator.forward(x))
    rng = np.random.default_rng(seed + 7)
    noise = rng.standard_normal(y.shape)
    if np.iscomplexobj(y):
        noise = noise + 1j * rng.standard_normal(y.shape)
    mask = getattr(operator, "mask", None)     # unsampled k-space / unobserved pixels stay zero
    support = np.ones(y.shape) if mask is None else np.broadcast_to(np.asarray(mask), y.shape)
    return jnp.asarray((y + noise_std * noise * support).astype(y.dtype))


def exact_posterior(prior, operator, y, noise_std, complex_prior=False):
    a, rows = dense_model(operator, y, complex_prior)
    return prior.posterior_gaussian(a, noise_std, rows(y[0]))


def column_mask(n, columns):
    mask = np.zeros((n, n), np.float32)
    mask[:, list(columns)] = 1.0
    return mask


def sample_stats(x):
    x = np.asarray(x, np.float64).reshape(x.shape[0], -1)
    return x.mean(0), x.var(0, ddof=1)


# --- adapter tests -----------------------------------------------------------------------------

def test_to_complex_and_from_complex_are_adjoint():
    rng = np.random.default_rng(0)
    for channels in (1, 2):
        x = rng.standard_normal((2, 3, 4, channels)).astype(np.float32)
        z = (rng.standard_normal((2, 3, 4)) + 1j * rng.standard_normal((2, 3, 4))).astype(np.complex64)
        lhs = np.sum(np.real(np.conj(np.asarray(to_complex(x))) * z))
        rhs = np.sum(x * np.asarray(from_complex(z, channels)))
        assert abs(lhs - rhs) < 1e-4 * abs(lhs)
        np.testing.assert_allclose(from_complex(to_complex(x), channels), x, atol=1e-6)
    with pytest.raises(ValueError, match="1 .real. or 2"):
        to_complex(np.zeros((2, 3, 3)))


OPERATORS = {
    "singlecoil": lambda: mri.SinglecoilOperator(column_mask(6, [0, 2, 3, 4])),
    "multicoil": lambda: mri.MulticoilOperator(column_mask(6, [0, 2, 3, 4]), mri.birdcage_maps((3, 6, 6))),
    "inpainting": lambda: mri.InpaintingOperator(np.eye(6, dtype=np.float32)),
    "colorization": lambda: mri.ColorizationOperator(),
}
IMAGES = {"singlecoil": (2, 6, 6), "multicoil": (2, 6, 6), "inpainting": (2, 6, 6, 1), "colorization": (2, 6, 6, 3)}


@pytest.mark.parametrize("name,complex_prior", [("singlecoil", False), ("singlecoil", True), ("singlecoil", "split"),
                                                ("multicoil", False), ("multicoil", "split"),
                                                ("inpainting", False), ("colorization", False)])
def test_prior_view_adjoint_and_shapes(name, complex_prior):
    op = OPERATORS[name]()
    rng = np.random.default_rng(1)
    y = op.forward(jnp.zeros(IMAGES[name], jnp.float32))
    view = PriorView(op, y, complex_prior)
    x = rng.standard_normal(view.prior_shape).astype(np.float32)
    v = np.asarray(y) + rng.standard_normal(y.shape)
    if np.iscomplexobj(v):
        v = v + 1j * rng.standard_normal(y.shape)
    lhs = np.sum(np.real(np.conj(np.asarray(view.forward(x))) * v))
    rhs = np.sum(x * np.asarray(view.adjoint(jnp.asarray(v, y.dtype))))
    assert abs(lhs - rhs) < 1e-4 * max(1.0, abs(lhs))
    expect = {False: 1, True: 2, "split": 2}[complex_prior]
    if name in ("inpainting", "colorization"):
        assert view.output(x).shape == IMAGES[name]
    else:
        assert view.output(x).shape == IMAGES[name] + (expect,)
        assert view.prior_shape[0] == (4 if complex_prior == "split" else 2)


def test_least_squares_step_projects_real_images_onto_hermitian_data():
    """For a real image a single-coil mask is not a projection of the real part (k and -k pair
    up), yet two CG steps land exactly on the measurements."""
    op = mri.SinglecoilOperator(column_mask(8, [0, 1, 4, 5]))    # 1 and 7 unpaired: Re ∘ A^H A has eigenvalue 1/2
    rng = np.random.default_rng(2)
    x_true = rng.standard_normal((3, 8, 8)).astype(np.float32)
    y = op.forward(x_true)
    view = PriorView(op, y, False)
    x = jnp.asarray(rng.standard_normal(view.prior_shape), jnp.float32)
    out = view.least_squares_step(x, y - view.forward(x), 3)
    np.testing.assert_allclose(np.asarray(view.forward(out)), np.asarray(y), atol=2e-5)
    one = view.least_squares_step(x, y - view.forward(x), 1)
    assert np.abs(np.asarray(view.forward(one)) - np.asarray(y)).max() > 1e-3   # one step is not enough


def test_dense_model_reproduces_operator():
    op = OPERATORS["singlecoil"]()
    x = np.random.default_rng(3).standard_normal((1, 6, 6)).astype(np.float32)
    y = op.forward(x)
    a, rows = dense_model(op, y)
    np.testing.assert_allclose(a @ x.reshape(-1), rows(y), atol=1e-5)


def test_posterior_methods_registry_is_exported():
    assert set(samplers.POSTERIOR_METHODS) == {"score_mri", "projection", "dps", "dds", "mmps"}
    assert callable(samplers.posterior_sample) and callable(samplers.posterior_mean_std)
