"""The FID Inception-v3 in Flax Linen: pytorch-fid's ``pt_inception-2015-12-05`` network.

This is the TF graph FID was defined with (the one TF-GAN and score_sde read), as pytorch-fid
ports it: torchvision's Inception-v3 with a 1008-way head and its "FID" blocks, which differ
from torchvision's in two ways the weights were trained with: the average pools in the A, C
and first E blocks do not count the zero padding, and the last E block max-pools.

    variables = inception_variables_from_state_dict(state_dict)   # pytorch-fid parameter names
    pool, logits = FIDInceptionV3().apply(variables, images)      # images [B, H, W, 3] in [0, 1]

``pool`` ``[B, 2048]`` are the pool3 features FID / KID use, ``logits`` ``[B, 1008]`` the head
the Inception Score reads. Input handling matches pytorch-fid's ``InceptionV3``: resize to
299 × 299 bilinearly (PyTorch's ``interpolate``, align_corners=False, no antialiasing; see
``resize_bilinear``), then scale [0, 1] -> [-1, 1]. Layout NHWC; weights are converted from
PyTorch's OIHW once, in ``inception_variables_from_state_dict``.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

FID_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                   "pt_inception-2015-12-05-6726825d.pth")
INPUT_SIZE = 299
# Full float32 on every backend: GPUs may otherwise run float32 convolutions in TF32 (10 mantissa
# bits, rounding ~5e-4 per product), far coarser than the 1e-4 parity this module is tested to.
_PRECISION = jax.lax.Precision.HIGHEST


def _interp_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``[n_out, n_in]`` weights of PyTorch's 1-D linear interpolation, align_corners=False:
    source = (o + ½) n_in / n_out - ½, clamped below at 0, neighbours clamped at n_in - 1.
    Computed in float32 as PyTorch does, so the weights agree to the last bit."""
    f32 = np.float32
    src = np.maximum(f32(n_in / n_out) * (np.arange(n_out, dtype=f32) + f32(0.5)) - f32(0.5), f32(0))
    lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = (src - lo.astype(f32)).astype(np.float64)
    w = np.zeros((n_out, n_in))
    np.add.at(w, (np.arange(n_out), lo), 1.0 - frac)
    np.add.at(w, (np.arange(n_out), hi), frac)
    return w


def resize_bilinear(x: jax.Array, size: tuple[int, int]) -> jax.Array:
    """``x: [B, H, W, C]`` -> ``[B, size[0], size[1], C]`` exactly as pytorch-fid resizes.

    ``jax.image.resize`` antialiases when shrinking, PyTorch's bilinear mode does not; two
    small matrix products reproduce PyTorch for either direction.
    """
    wh = jnp.asarray(_interp_matrix(x.shape[1], size[0]), x.dtype)
    ww = jnp.asarray(_interp_matrix(x.shape[2], size[1]), x.dtype)
    x = jnp.einsum("oh,bhwc->bowc", wh, x, precision=_PRECISION)
    return jnp.einsum("pw,bowc->bopc", ww, x, precision=_PRECISION)


class BasicConv(nn.Module):
    """Convolution without bias, batch norm (running statistics, eps 1e-3), ReLU."""
    features: int
    kernel: tuple[int, int]
    stride: int = 1
    padding: tuple[int, int] = (0, 0)

    @nn.compact
    def __call__(self, x):
        ph, pw = self.padding
        x = nn.Conv(self.features, self.kernel, strides=self.stride, padding=((ph, ph), (pw, pw)),
                    use_bias=False, precision=_PRECISION, name="conv")(x)
        x = nn.BatchNorm(use_running_average=True, epsilon=1e-3, name="bn")(x)
        return nn.relu(x)


def _conv(name: str, features: int, kernel=(1, 1), stride: int = 1, padding=(0, 0)) -> BasicConv:
    return BasicConv(features, tuple(kernel), stride, tuple(padding), name=name)


def _avg_pool_same(x):
    # TF's average pool ignores the padded zeros: count_include_pad=False.
    return nn.avg_pool(x, (3, 3), (1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)


def _max_pool(x, stride: int = 2, pad: int = 0):
    return nn.max_pool(x, (3, 3), (stride, stride), padding=((pad, pad), (pad, pad)))


class InceptionA(nn.Module):
    pool_features: int

    @nn.compact
    def __call__(self, x):
        b1 = _conv("branch1x1", 64)(x)
        b5 = _conv("branch5x5_2", 64, (5, 5), padding=(2, 2))(_conv("branch5x5_1", 48)(x))
        b3 = _conv("branch3x3dbl_1", 64)(x)
        b3 = _conv("branch3x3dbl_2", 96, (3, 3), padding=(1, 1))(b3)
        b3 = _conv("branch3x3dbl_3", 96, (3, 3), padding=(1, 1))(b3)
        bp = _conv("branch_pool", self.pool_features)(_avg_pool_same(x))
        return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
    @nn.compact
    def __call__(self, x):
        b3 = _conv("branch3x3", 384, (3, 3), stride=2)(x)
        bd = _conv("branch3x3dbl_1", 64)(x)
        bd = _conv("branch3x3dbl_2", 96, (3, 3), padding=(1, 1))(bd)
        bd = _conv("branch3x3dbl_3", 96, (3, 3), stride=2)(bd)
        return jnp.concatenate([b3, bd, _max_pool(x)], axis=-1)


class InceptionC(nn.Module):
    channels_7x7: int

    @nn.compact
    def __call__(self, x):
        c7 = self.channels_7x7
        row, col = dict(kernel=(1, 7), padding=(0, 3)), dict(kernel=(7, 1), padding=(3, 0))
        b1 = _conv("branch1x1", 192)(x)
        b7 = _conv("branch7x7_1", c7)(x)
        b7 = _conv("branch7x7_2", c7, **row)(b7)
        b7 = _conv("branch7x7_3", 192, **col)(b7)
        bd = _conv("branch7x7dbl_1", c7)(x)
        for k, (feat, shape) in enumerate([(c7, col), (c7, row), (c7, col), (192, row)], start=2):
            bd = _conv(f"branch7x7dbl_{k}", feat, **shape)(bd)
        bp = _conv("branch_pool", 192)(_avg_pool_same(x))
        return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
    @nn.compact
    def __call__(self, x):
        b3 = _conv("branch3x3_2", 320, (3, 3), stride=2)(_conv("branch3x3_1", 192)(x))
        b7 = _conv("branch7x7x3_1", 192)(x)
        b7 = _conv("branch7x7x3_2", 192, (1, 7), padding=(0, 3))(b7)
        b7 = _conv("branch7x7x3_3", 192, (7, 1), padding=(3, 0))(b7)
        b7 = _conv("branch7x7x3_4", 192, (3, 3), stride=2)(b7)
        return jnp.concatenate([b3, b7, _max_pool(x)], axis=-1)


class InceptionE(nn.Module):
    """``max_pool``: the FID graph's last block max-pools (pytorch-fid's FIDInceptionE_2)."""
    max_pool: bool = False

    @nn.compact
    def __call__(self, x):
        def split(prefix, y):
            a = _conv(f"{prefix}a", 384, (1, 3), padding=(0, 1))(y)
            b = _conv(f"{prefix}b", 384, (3, 1), padding=(1, 0))(y)
            return jnp.concatenate([a, b], axis=-1)

        b1 = _conv("branch1x1", 320)(x)
        b3 = split("branch3x3_2", _conv("branch3x3_1", 384)(x))
        bd = _conv("branch3x3dbl_2", 384, (3, 3), padding=(1, 1))(_conv("branch3x3dbl_1", 448)(x))
        bd = split("branch3x3dbl_3", bd)
        pooled = _max_pool(x, stride=1, pad=1) if self.max_pool else _avg_pool_same(x)
        bp = _conv("branch_pool", 192)(pooled)
        return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class FIDInceptionV3(nn.Module):
    """``__call__(x [B, H, W, 3] in [0, 1]) -> (pool3 [B, 2048], logits [B, 1008])``."""
    resize_input: bool = True
    normalize_input: bool = True

    @nn.compact
    def __call__(self, x):
        x = jnp.asarray(x, jnp.float32)
        if self.resize_input:
            x = resize_bilinear(x, (INPUT_SIZE, INPUT_SIZE))
        if self.normalize_input:
            x = 2.0 * x - 1.0
        x = _conv("Conv2d_1a_3x3", 32, (3, 3), stride=2)(x)
        x = _conv("Conv2d_2a_3x3", 32, (3, 3))(x)
        x = _max_pool(_conv("Conv2d_2b_3x3", 64, (3, 3), padding=(1, 1))(x))
        x = _conv("Conv2d_3b_1x1", 80)(x)
        x = _max_pool(_conv("Conv2d_4a_3x3", 192, (3, 3))(x))
        for name, pool in (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)):
            x = InceptionA(pool, name=name)(x)
        x = InceptionB(name="Mixed_6a")(x)
        for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
            x = InceptionC(c7, name=name)(x)
        x = InceptionD(name="Mixed_7a")(x)
        x = InceptionE(name="Mixed_7b")(x)
        x = InceptionE(max_pool=True, name="Mixed_7c")(x)
        pool = jnp.mean(x, axis=(1, 2))
        return pool, nn.Dense(1008, precision=_PRECISION, name="fc")(pool)


# PyTorch suffix -> (Flax collection, leaf name, transform from the PyTorch array)
_LEAVES = {
    "conv.weight": ("params", "kernel", lambda w: np.transpose(w, (2, 3, 1, 0))),   # OIHW -> HWIO
    "bn.weight": ("params", "scale", None),
    "bn.bias": ("params", "bias", None),
    "bn.running_mean": ("batch_stats", "mean", None),
    "bn.running_var": ("batch_stats", "var", None),
    "fc.weight": ("params", "kernel", np.transpose),
    "fc.bias": ("params", "bias", None),
}


def _split(name: str) -> tuple[Sequence[str], str]:
    """'Mixed_5b.branch1x1.conv.weight' -> (['Mixed_5b', 'branch1x1', 'conv'], 'conv.weight')."""
    parts = name.split(".")
    return parts[:-1], ".".join(parts[-2:])


def inception_state_dict_shapes() -> dict[str, tuple[int, ...]]:
    """Every parameter name of pytorch-fid's FID Inception with its PyTorch shape (the
    ``num_batches_tracked`` counters aside): what a weights file must hold."""
    shapes = jax.eval_shape(FIDInceptionV3().init, jax.random.PRNGKey(0), jnp.zeros((1, 75, 75, 3)))
    out = {}
    for collection, tree in shapes.items():
        for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
            keys = [p.key for p in path]
            for suffix, (coll, leaf_name, fn) in _LEAVES.items():
                if coll == collection and keys[-1] == leaf_name and keys[-2] == suffix.split(".")[0]:
                    shape = leaf.shape
                    if fn is not None:      # back to PyTorch's layout
                        shape = (tuple(shape[i] for i in (3, 2, 0, 1)) if len(shape) == 4 else shape[::-1])
                    out[".".join(keys[:-1]) + "." + suffix.split(".")[1]] = tuple(shape)
    return out


def inception_variables_from_state_dict(state_dict: Mapping[str, np.ndarray]) -> dict:
    """Flax variables ``{"params", "batch_stats"}`` from pytorch-fid's flat state dict.

    Missing, unexpected or mis-shaped entries raise a ValueError naming them.
    """
    expected = inception_state_dict_shapes()
    given = {k: v for k, v in state_dict.items() if not k.endswith("num_batches_tracked")}
    missing, unexpected = sorted(set(expected) - set(given)), sorted(set(given) - set(expected))
    wrong = sorted(k for k in set(expected) & set(given) if tuple(np.shape(given[k])) != expected[k])
    if missing or unexpected or wrong:
        raise ValueError(f"not pytorch-fid's FID Inception state dict: missing {missing[:5]} "
                         f"({len(missing)}), unexpected {unexpected[:5]} ({len(unexpected)}), "
                         f"wrong shape {[(k, np.shape(given[k]), expected[k]) for k in wrong[:5]]}")
    variables: dict = {"params": {}, "batch_stats": {}}
    for name, value in given.items():
        path, suffix = _split(name)
        collection, leaf, fn = _LEAVES[suffix]
        node = variables[collection]
        for key in path:
            node = node.setdefault(key, {})
        value = np.asarray(value, np.float32)
        node[leaf] = jnp.asarray(fn(value) if fn is not None else value)
    return variables
