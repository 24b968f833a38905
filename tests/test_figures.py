"""The theory figures exist, and the values they plot are the SDEs' own marginals."""
import os

import jax.numpy as jnp
import numpy as np
import pytest

import sde_lib
from configs import digits_ddpmpp, toy2d
from run import figures


def marginal(sde, t):
    mean, std = sde.marginal_prob(jnp.ones((len(t), 1)), jnp.asarray(t, jnp.float32))
    return np.asarray(mean[:, 0]), np.asarray(std)


def test_write_figures_for_the_toy_config(tmp_path):
    config = toy2d.get_config()
    paths = figures.write_figures(config, str(tmp_path / "figs"))
    assert [os.path.basename(p) for p in paths] == ["schedules.png", "forward_strip.png", "snr.png"]
    for p in paths:
        assert os.path.getsize(p) > 1000 and os.path.exists(p[:-4] + ".npz")
    m = config.model
    sched = np.load(paths[0][:-4] + ".npz")
    for name, sde in (("linear", sde_lib.VPSDE(m.beta_min, m.beta_max, m.num_scales)),
                      ("cosine", sde_lib.CosineVPSDE(N=m.num_scales))):
        mean, std = marginal(sde, sched["t"])
        np.testing.assert_allclose(sched[f"{name}_mean_coeff"], mean, rtol=1e-6)
        np.testing.assert_allclose(sched[f"{name}_variance"], std**2, rtol=1e-6)
        np.testing.assert_allclose(sched[f"{name}_beta"], sde.chain.betas, rtol=1e-6)
    snr = np.load(paths[2][:-4] + ".npz")
    for name, sde in (("vp", sde_lib.VPSDE(m.beta_min, m.beta_max, m.num_scales)),
                      ("subvp", sde_lib.subVPSDE(m.beta_min, m.beta_max, m.num_scales)),
                      ("ve", sde_lib.VESDE(m.sigma_min, m.sigma_max, m.num_scales))):
        mean, std = marginal(sde, snr["t"])
        np.testing.assert_allclose(snr[f"{name}_snr"], mean**2 / std**2, rtol=1e-5)
    assert np.all(np.diff(snr["vp_snr"]) < 0)          # SNR falls with t for every SDE


def test_forward_strip_is_the_marginal_with_one_noise(tmp_path):
    config = digits_ddpmpp.get_config()
    image, to_unit = figures.embedded_image(config)
    assert image.shape == (16, 16, 1) and image.min() >= -1 and image.max() <= 1
    for sde in (sde_lib.CosineVPSDE(N=100), sde_lib.VESDE(0.01, 50.0, 100)):
        v = figures.forward_strip(sde, image, str(tmp_path / "strip.png"), num=5, to_unit=to_unit)
        assert os.path.exists(tmp_path / "strip.png") and v["x"].shape == (5, 16, 16, 1)
        mean, std = sde.marginal_prob(jnp.broadcast_to(image, (5,) + image.shape), jnp.asarray(v["t"], jnp.float32))
        np.testing.assert_allclose(v["x"], np.asarray(mean) + np.asarray(std)[:, None, None, None] * v["noise"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(v["t"], np.linspace(0, 1, 5))


def test_figures_mode_writes_the_folder_once(tmp_path):
    from run.files import OutputExists
    config = digits_ddpmpp.get_config()
    paths = figures.figures(config, str(tmp_path))
    assert [os.path.basename(p) for p in paths] == ["schedules.png", "forward_strip.png", "snr.png"]
    assert all(os.path.getsize(p) > 1000 for p in paths)
    with pytest.raises(OutputExists, match="--overwrite"):
        figures.figures(config, str(tmp_path))
    assert figures.figures(config, str(tmp_path), overwrite=True) == paths
