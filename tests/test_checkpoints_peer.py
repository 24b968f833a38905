"""Peer checkpoints load exactly: outputs equal the peers' own, parameter counts equal theirs.

Fixtures (tests/fixtures/peer/README.md) were written by score_sde_pytorch, score_sde (Flax) and
guided-diffusion themselves; the full-size checks use the peers' names and shapes only
(jax.eval_shape for ours, zero-stride arrays for theirs), so they cost no memory or compute.
"""
from __future__ import annotations

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import models
import peer_cases as pc
from models import convert_adm, convert_score_sde
from models.checkpoints import model_section, param_template

CASES = pc.cases()
_FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


@pytest.mark.parametrize("name", sorted(CASES))
def test_outputs_equal_the_peers_own(name):
    case = CASES[name]
    cfg = pc.model_config(case)
    model = models.get_model(cfg)
    apply = jax.jit(model.apply, compiler_options=_FAST_COMPILE)
    data = np.load(pc.path(f"{name}.npz"))
    nhwc = case.get("layout") == "NHWC"
    x = data["x"] if nhwc else data["x"].transpose(0, 2, 3, 1)
    kw = {"y": jnp.asarray(data["y"])} if "y" in data.files else {}
    for w in pc.weights(case):
        variables = models.load_checkpoint(pc.checkpoint_file(name, case), cfg, weights=w)
        out = np.asarray(apply(variables, jnp.asarray(x), jnp.asarray(data["labels"]), **kw))
        out = out if nhwc else out.transpose(0, 3, 1, 2)
        ref = data[f"out_{w}"] if f"out_{w}" in data.files else data["out"]
        rel = np.abs(out - ref).max() / np.abs(ref).max()
        assert rel < 1e-4, (name, w, rel)
        if name == "ssp_ddpmpp_ddpmblocks":   # 3,432 of the peer's are Dense_0s its forward never uses
            assert pc.count(variables) == case["params"] - 3432
        else:
            assert pc.count(variables) == case["params"]
    if len(pc.weights(case)) == 2:
        # EMA and raw outputs differ far beyond the tolerance, so a loader that mixed them up fails.
        gap = np.abs(data["out_ema"] - data["out_raw"]).max() / np.abs(data["out_raw"]).max()
        assert gap > 1e-2, gap


def test_checkpoint_step_and_checkpoint_folders():
    assert models.checkpoint_step(pc.path("ssp_ncsnpp_ve.pth")) == 7
    assert models.checkpoint_step(pc.path("flax_ncsnpp_ve/checkpoint_7")) == 7
    assert models.checkpoint_step(pc.path("flax_ncsnpp_ve")) == 7       # a folder: its last checkpoint_<N>
    assert models.checkpoint_step(pc.path("adm_small.pt")) is None      # a bare state dict
    cfg = pc.model_config(CASES["flax_ncsnpp_ve"])
    a = models.load_checkpoint(pc.path("flax_ncsnpp_ve"), cfg)
    b = models.load_checkpoint(pc.path("flax_ncsnpp_ve/checkpoint_7"), cfg)
    assert all(bool(jnp.array_equal(u, v)) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def test_a_whole_config_takes_image_size_and_channels_from_data():
    import ml_collections
    case = CASES["ssp_ncsnpp_ve"]
    config = ml_collections.ConfigDict()
    config.model = {k: v for k, v in pc.model_config(case).items()
                    if k not in ("image_size", "num_channels", "centered", "file")}
    config.data = dict(image_size=16, num_channels=1, centered=False)
    variables = models.load_checkpoint(pc.path("ssp_ncsnpp_ve.pth"), config)
    assert pc.count(variables) == case["params"]


# ----------------------------------------------------------------------- full-size networks

# Parameter counts measured with the peers' own code (tests/fixtures/peer/README.md).
FULL_SIZE = {
    "ve.ncsnpp_cifar10_continuous": 62_758_915,
    "ve.ncsnpp_cifar10_deep_continuous": 107_587_075,
    "vp.ddpmpp_cifar10_continuous": 61_804_419,
    "vp.ddpmpp_cifar10_deep_continuous": 106_632_579,
    "subvp.ddpmpp_cifar10_continuous": 61_804_419,
    "subvp.ddpmpp_cifar10_deep_continuous": 106_632_579,
    "vp.ddpm_cifar10": 35_218_947,
    "ve.ncsnpp_celebahq_256_continuous": 65_574_549,
    "ve.ncsnpp_ffhq_256_continuous": 65_574_549,
    "ve.ncsnpp_church_continuous": 65_574_549,
    "ve.ncsnpp_bedroom_continuous": 65_574_549,
    "ve.ncsnpp_ffhq_1024_continuous": 105_785_896,
    "mri.score_mri_knee320": 61_433_601,
    "mri.dds_knee_adm": 361_428_228,
    "adm.dps_ffhq256": 93_563_910,
}
_TEMPLATES: dict = {}


def _template(config_name: str):
    if config_name not in _TEMPLATES:
        config = importlib.import_module(f"configs.{config_name}").get_config()
        _TEMPLATES[config_name] = param_template(models.get_model(model_section(config)))
    return _TEMPLATES[config_name]


@pytest.mark.parametrize("config_name", sorted(FULL_SIZE))
def test_full_size_parameter_counts_equal_the_peers(config_name):
    template, _ = _template(config_name)
    assert pc.count(template) == FULL_SIZE[config_name]


# score_sde's own config -> ours
FLAX_TREES = {"ve.cifar10_ncsnpp_continuous": "ve.ncsnpp_cifar10_continuous",
              "ve.cifar10_ncsnpp_deep_continuous": "ve.ncsnpp_cifar10_deep_continuous",
              "vp.cifar10_ddpmpp_continuous": "vp.ddpmpp_cifar10_continuous",
              "vp.ddpm.cifar10": "vp.ddpm_cifar10",
              "ve.celebahq_256_ncsnpp_continuous": "ve.ncsnpp_celebahq_256_continuous",
              "ve.ffhq_ncsnpp_continuous": "ve.ncsnpp_ffhq_1024_continuous"}


def _zeros(shape):
    return np.broadcast_to(np.float32(0), tuple(shape))   # no memory, whatever the size


def test_full_size_trees_are_score_sdes_linen_trees():
    trees = pc.load_gz_json("score_sde_flax_trees.json.gz")
    assert set(trees) == set(FLAX_TREES)
    for theirs, ours in FLAX_TREES.items():
        template, _ = _template(ours)
        flat = {"/".join(p): list(s.shape) for p, s in _flatten(template).items()}
        assert flat == trees[theirs], theirs
        state = {"params_ema": _unflatten({k: _zeros(s) for k, s in trees[theirs].items()})}
        params = convert_score_sde.flax_state_to_params(state, template, "ema", theirs)
        assert pc.count(params) == FULL_SIZE[ours]


TORCH_STATES = {"score_sde_pytorch:ve.cifar10_ncsnpp_continuous": "ve.ncsnpp_cifar10_continuous",
                "score_sde_pytorch:vp.cifar10_ddpmpp_continuous": "vp.ddpmpp_cifar10_continuous",
                "score_sde_pytorch:vp.ddpm.cifar10": "vp.ddpm_cifar10",
                "score_sde_pytorch:ve.ffhq_ncsnpp_continuous": "ve.ncsnpp_ffhq_1024_continuous",
                "score-MRI:fastmri_knee_320_ncsnpp_continuous": "mri.score_mri_knee320",
                "DDS:fastmri_knee_320_complex": "mri.dds_knee_adm"}


@pytest.mark.parametrize("source", sorted(TORCH_STATES))
def test_full_size_torch_state_dicts_map_onto_our_networks(source):
    keys = pc.load_gz_json("torch_state_shapes.json.gz")[source]
    ours = TORCH_STATES[source]
    template, order = _template(ours)
    sd = {k: _zeros(s) for k, s in keys}
    if source.startswith("DDS"):
        params = convert_adm.torch_state_to_params(sd, template, source)
    else:
        trainable = [k for k, s in keys if not k.endswith(".sigmas") and not
                     (k.endswith(".W") and len(s) == 1)]
        sd = convert_score_sde.ema_state_dict(sd, {"shadow_params": [sd[k] for k in trainable]}, source)
        params = convert_score_sde.torch_state_to_params(sd, template, order, source)
    assert pc.count(params) == FULL_SIZE[ours]


def _flatten(tree, prefix=()):
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(_flatten(v, prefix + (k,)))
        else:
            out[prefix + (k,)] = v
    return out


def _unflatten(flat: dict) -> dict:
    out: dict = {}
    for key, v in flat.items():
        node = out
        parts = key.split("/")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return out


@pytest.mark.parametrize("name,sde,output,label,continuous", [
    ("ssp_ddpmpp_vp", "vp", "eps", "time", True),
    ("adm_small", "vp", "eps", "time", False),          # learned σ: 4 outputs for 2 channels
    ("flax_ncsnpp_ve", "ve", "score", "sigma", True),
])
def test_loaded_peers_sample_with_the_fast_solvers(name, sde, output, label, continuous):
    import samplers
    import sde_lib
    case = CASES[name]
    cfg = pc.model_config(case)
    model = models.get_model(cfg)
    variables = models.load_checkpoint(pc.checkpoint_file(name, case), cfg)
    s = sde_lib.VPSDE(beta_min=0.1, beta_max=20.0, N=1000) if sde == "vp" else \
        sde_lib.VESDE(sigma_min=0.01, sigma_max=50.0, N=1000)
    score_fn = models.make_score_fn(s, model.apply, variables, output=output, label=label,
                                    continuous=continuous)
    shape = (1, cfg["image_size"], cfg["image_size"], cfg["num_channels"])
    x, nfe = samplers.sample(jax.random.PRNGKey(0), s, score_fn, shape, method="dpm_solver_pp",
                             num_steps=4)
    assert x.shape == shape and int(nfe) == 4 and bool(jnp.all(jnp.isfinite(x)))
