"""bench/sigpy_baseline.py: sigpy's L1-wavelet recon as an outside CS reference (optional tool).

The first test runs everywhere (sigpy absent is the usual case); the others need sigpy.
"""
import jax.numpy as jnp
import numpy as np
import pytest

import mri
from bench import bench_mri, sigpy_baseline
from run.recon.problem import Problem


def test_sigpy_on_without_sigpy_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setattr(sigpy_baseline, "available", lambda: False)
    with pytest.raises(SystemExit) as e:
        bench_mri.main(["--gaussian", "--sigpy", "on"])
    assert e.value.code == 2
    assert "pip install sigpy" in capsys.readouterr().err


def _problem(coils: int, size: int = 32, slices: int = 2) -> Problem:
    # smooth blobs: few large Daubechies-4 coefficients (a boxy phantom is not, at 32 px)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size] / size
    gt = np.zeros((slices, size, size), np.float32)
    for s in range(slices):
        for cy, cx, w, a in rng.uniform((0.3, 0.3, 0.06, 0.3), (0.7, 0.7, 0.15, 1.0), (4, 4)):
            gt[s] += a * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * w * w))
    mask = mri.make_mask("equispaced", (size, size), 4.0, 0.08, 0)
    op = (mri.MulticoilOperator(mask, mri.birdcage_maps((coils, size, size))) if coils > 1
          else mri.SinglecoilOperator(mask))
    y = np.asarray(op.forward(gt))
    return Problem(gt=gt, y=y, operator=op, mask=np.asarray(mask), complex_data=False, source="test", slice_ids=[0, 1])


@pytest.mark.parametrize("coils", [1, 4])
def test_same_forward_model_and_the_tuned_recon_beats_zero_filling_and_least_squares(coils):
    pytest.importorskip("sigpy")
    wavelet = "db4"   # smooth blobs: Haar gains nothing over least squares on them
    problem = _problem(coils)
    assert sigpy_baseline.check_same_forward(problem) < 1e-5
    result = sigpy_baseline.run(problem, (problem.y, problem.gt), n_iter=50, wavelet=wavelet)
    psnr = mri.mean_metrics(mri.slice_metrics(problem.gt, result["image"]))["psnr"]
    zero = mri.mean_metrics(mri.slice_metrics(problem.gt, np.abs(np.asarray(mri.zero_filled(problem.operator,
                                                                                             problem.y)))))["psnr"]
    least_squares = sigpy_baseline.reconstruct(problem.y, problem.operator, problem.mask, 1e-5, 50)[0]
    least_squares = mri.mean_metrics(mri.slice_metrics(problem.gt, least_squares))["psnr"]
    assert psnr > zero + 3.0 and psnr > least_squares + 0.5, (psnr, zero, least_squares)
    cs = result["cs"]
    assert wavelet in cs["method"] and sigpy_baseline.name(wavelet) == f"sigpy_l1_{wavelet}"
    assert cs["rel_lam"] == cs["tuning"]["rel_lam"] and len(cs["objective"]) == 51   # the start and every iterate
    assert cs["objective"][-1] <= cs["objective"][0]
    # the wavelet option reaches sigpy
    haar = sigpy_baseline.reconstruct(problem.y[:1], problem.operator, problem.mask, 0.01, 20, wavelet="haar")[0]
    assert np.max(np.abs(haar - sigpy_baseline.reconstruct(problem.y[:1], problem.operator, problem.mask, 0.01,
                                                           20)[0])) > 1e-3


class _UncentredOperator(mri.SinglecoilOperator):
    """A single-coil operator with the uncentred FFT: another convention than sigpy's."""

    def forward(self, x):
        return self.mask * jnp.fft.fft2(mri.as_complex(x), norm="ortho")


def test_another_fft_convention_is_refused():
    pytest.importorskip("sigpy")
    problem = _problem(1)
    problem.operator = _UncentredOperator(problem.mask)
    with pytest.raises(RuntimeError, match="differs from ours"):
        sigpy_baseline.check_same_forward(problem)
