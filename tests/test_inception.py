"""The Flax FID Inception against pytorch-fid's own model (random weights, fixture made with
PyTorch; see tests/fixtures/README.md): same parameter names and shapes, same resize, same
pool features and logits."""
import json
import os

import jax
import numpy as np
import pytest

import models
from inception_weights import random_state_dict, fixture_images
from models import inception

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def reference():
    return np.load(os.path.join(FIXTURES, "fid_inception_random.npz"))


def test_parameter_names_and_shapes_are_pytorch_fids():
    with open(os.path.join(FIXTURES, "fid_inception_state_dict.json")) as f:
        torch_shapes = {k: tuple(v) for k, v in json.load(f).items()}
    assert inception.inception_state_dict_shapes() == torch_shapes


@pytest.mark.parametrize("tag", ["up", "down"])
def test_resize_is_pytorchs_bilinear(tag):
    ref = reference()
    src, dst = ref[f"resize_{tag}_in"], ref[f"resize_{tag}_out"]
    out = inception.resize_bilinear(src, dst.shape[1:3])
    np.testing.assert_allclose(np.asarray(out), dst, rtol=1e-6, atol=1e-6)


def test_pool_features_and_logits_match_pytorch_fid():
    ref = reference()
    variables = models.inception_variables_from_state_dict(random_state_dict(inception.inception_state_dict_shapes()))
    np.testing.assert_array_equal(ref["images"], fixture_images())
    pool, logits = jax.jit(models.FIDInceptionV3().apply)(variables, ref["images"])
    assert pool.shape == (2, 2048) and logits.shape == (2, 1008)
    rel = np.abs(np.asarray(pool) - ref["pool"]).max() / np.abs(ref["pool"]).max()
    assert rel < 1e-4, rel
    assert float(np.std(ref["pool"])) > 0.1          # the random network is not degenerate
    rel_logits = np.abs(np.asarray(logits) - ref["logits"]).max() / np.abs(ref["logits"]).max()
    assert rel_logits < 1e-4, rel_logits


def test_state_dict_errors_name_the_entries():
    sd = random_state_dict(inception.inception_state_dict_shapes())
    sd.pop("Mixed_6b.branch7x7_2.conv.weight")
    sd["fc.weight"] = sd["fc.weight"][:1000]
    sd["AuxLogits.fc.weight"] = np.zeros((1000, 768), np.float32)
    with pytest.raises(ValueError) as e:
        models.inception_variables_from_state_dict(sd)
    for word in ("Mixed_6b.branch7x7_2.conv.weight", "AuxLogits.fc.weight", "fc.weight"):
        assert word in str(e.value)
