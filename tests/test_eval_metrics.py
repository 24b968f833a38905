"""The eval-mode entry points of the DDPM view, on the embedded digits, with no trained model."""
import numpy as np
import pytest

import sde_lib
from configs import digits_ddpmpp, toy2d
from run import digits_quality, eval_metrics
from models import inception


def digits_config(**ev):
    config = digits_ddpmpp.get_config()
    config.training.continuous = False
    config.eval.batch_size = 16
    for k, v in ev.items():
        config.eval[k] = v
    return config


def test_vlb_metrics_on_held_out_digit_pixels():
    config = digits_config()
    sde = sde_lib.CosineVPSDE(N=50)
    out = eval_metrics.vlb_metrics(config, sde, lambda x, t: -x)     # the N(0, I) score: a poor model
    assert set(out) == {"vlb_bpd", "vlb_prior_bpd", "vlb_nfe"} and out["vlb_nfe"] == 50
    assert 0 < out["vlb_prior_bpd"] < out["vlb_bpd"] < 30
    # not for SDEs without a chain, continuous models by default, or 2-D data
    assert eval_metrics.vlb_metrics(config, sde_lib.VESDE(N=50), lambda x, t: -x) == {}
    config.training.continuous = True
    assert eval_metrics.vlb_metrics(config, sde, lambda x, t: -x) == {}
    assert eval_metrics.vlb_metrics(toy2d.get_config(), sde, lambda x, t: -x) == {}


def test_quality_metrics_for_digits_need_no_weights(tmp_path):
    config = digits_config()
    test, _ = digits_quality.digits_data("test")
    out = eval_metrics.quality_metrics(config, test, str(tmp_path))
    assert set(out) == {"digits_kid", "digits_kid_std", "digits_fd", "digits_score"}
    assert out["digits_kid"] < 0.1 and out["digits_score"] > 8.5


def test_quality_metrics_name_the_weights_url_when_missing(tmp_path):
    config = digits_config(inception_weights=str(tmp_path / "missing.pth"))
    with pytest.raises(FileNotFoundError, match="pytorch-fid"):
        eval_metrics.quality_metrics(config, np.zeros((4, 16, 16, 1), np.float32), str(tmp_path))
    assert inception.FID_WEIGHTS_URL.endswith("pt_inception-2015-12-05-6726825d.pth")
