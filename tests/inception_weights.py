"""Random weights for pytorch-fid's FID Inception, reproducible without PyTorch (NumPy only).

Each array is drawn from a generator seeded by (seed, crc32(name)), so the set of names and
shapes, not their order, fixes the weights: the fixture in tests/fixtures/fid_inception_random.npz
was made by loading exactly these arrays into pytorch-fid's model (see tests/fixtures/README.md).
Convolutions are He-scaled and batch norms near identity so activations stay O(1) through all
94 layers, which keeps a relative comparison of the pool features meaningful.
"""
import zlib

import numpy as np


def random_array(name: str, shape, seed: int = 0) -> np.ndarray:
    r = np.random.default_rng([seed, zlib.crc32(name.encode())])
    if name.endswith("conv.weight"):
        fan_in = int(np.prod(shape[1:]))
        return (r.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    if name.endswith("bn.weight"):
        return r.uniform(0.5, 1.5, shape).astype(np.float32)
    if name.endswith("running_var"):
        return r.uniform(0.5, 2.0, shape).astype(np.float32)
    if name == "fc.weight":
        return (r.standard_normal(shape) / np.sqrt(shape[1])).astype(np.float32)
    return r.normal(0.0, 0.1, shape).astype(np.float32)      # bn.bias, running_mean, fc.bias


def random_state_dict(shapes: dict, seed: int = 0) -> dict:
    return {name: random_array(name, shape, seed) for name, shape in shapes.items()}


def fixture_images(seed: int = 1) -> np.ndarray:
    """Two 32x32 RGB images in [0, 1], NHWC float32: the fixture's input."""
    return np.random.default_rng(seed).uniform(size=(2, 32, 32, 3)).astype(np.float32)
