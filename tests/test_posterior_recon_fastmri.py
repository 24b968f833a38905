"""run/recon.py on fastMRI files: complex k-space (with a phase) cropped to the prior's size,
retrospectively undersampled and reconstructed with the real prior "split" over real and
imaginary parts; single-coil, and multi-coil coil by coil with estimated sensitivities."""
import numpy as np
import pytest

import mri
from run import recon
from test_posterior_recon import SIZE, _config, prior  # noqa: F401  (prior is a fixture)


def _phantom_volume(num_slices=3, coils=0):
    """Complex images with a smooth phase on a 24 x 20 grid (non-square, like fastMRI's)."""
    base = mri.phantom(20)
    yy, xx = np.meshgrid(np.linspace(-1, 1, 24), np.linspace(-1, 1, 20), indexing="ij")
    vol = []
    for s in range(num_slices):
        img = np.zeros((24, 20), np.complex64)
        img[2:22] = base * (1 + 0.1 * s)
        vol.append(img * np.exp(1j * (0.8 * xx + 0.3 * yy * s)))
    vol = np.stack(vol)
    if coils:
        sens = mri.birdcage_maps((coils, 24, 20))
        return np.asarray(mri.fft2c(vol[:, None] * sens[None]))
    return np.asarray(mri.fft2c(vol))


@pytest.mark.parametrize("coils,options", [(0, {"num_steps": 10}),
                                           (4, {"multicoil": "coil_by_coil", "corrector": "none",
                                                "predictor": "ancestral_sampling", "num_steps": 10})])
def test_fastmri_files_are_undersampled_and_reconstructed_with_the_split_prior(prior, tmp_path, coils, options):
    sde, score_fn = prior
    path = mri.write_fastmri_file(tmp_path / "vol.h5", _phantom_volume(3, coils))
    method = "score_mri" if "multicoil" in options else "dds"
    config = _config(method=method, options=options, fastmri_path=str(path), cs_iters=10, downsample=True)
    problem = recon.build_problem(config)
    assert problem.complex_data and problem.gt.shape == (2, SIZE, SIZE) and problem.gt.max() == pytest.approx(1.0)
    op = problem.operator[0] if coils else problem.operator   # multi-coil: one operator (coil maps) per slice
    assert type(op).__name__ == ("MulticoilOperator" if coils else "SinglecoilOperator")
    out = tmp_path / "out"
    summary = recon.reconstruct_with(config, sde, score_fn, str(out))
    assert summary["meta"]["complex_prior"] == "split"
    assert np.isfinite(summary["methods"][method]["mean"]["nmse"])
    assert (out / "slice_01.png").exists()


def test_fastmri_files_are_reconstructed_at_their_own_resolution(tmp_path):
    """No downsampling: the file's own square field of view (here 20 px: the shorter side of a
    24 x 20 image) at its own resolution, each slice with its own coil maps; a prior of another
    size is refused before any compute unless recon.downsample says so."""
    vol = _phantom_volume(3, coils=4)
    path = mri.write_fastmri_file(tmp_path / "vol.h5", vol)
    config = _config(fastmri_path=str(path))
    with pytest.raises(recon.ReconConfigError, match="images are 20 px but the prior's data.image_size is 16"):
        recon.build_problem(config)
    config = _config(fastmri_path=str(path), num_slices=3)
    config.data.image_size = config.model.image_size = 20
    problem = recon.build_problem(config)
    assert problem.gt.shape == (3, 20, 20) and len(problem.operator) == 3
    image = np.asarray(mri.rss(mri.ifft2c(vol), axis=1))[:, 2:22, :]
    np.testing.assert_allclose(problem.gt, image / image.max(), atol=1e-5)
    # the measurements are the masked k-space of the 20 px field of view (no noise here), and each
    # slice has coil maps of its own, normalised to sum |S|² = 1
    full = np.asarray(mri.fft2c(np.asarray(mri.ifft2c(vol))[:, :, 2:22, :])) / image.max()
    np.testing.assert_allclose(problem.y, full * problem.mask, atol=1e-5)
    for op in problem.operator:
        assert op.sens.shape == (4, 20, 20)
        np.testing.assert_allclose(np.sum(np.abs(np.asarray(op.sens)) ** 2, axis=0), 1.0, atol=1e-4)
    assert not np.allclose(problem.operator[0].sens, problem.operator[2].sens)
    with pytest.raises(recon.ReconConfigError, match="recon.mask"):
        config.recon.mask.acceleration, config.recon.mask.center_fraction = 12.0, 0.5
        recon.build_problem(config)


def test_fastmri_challenge_files_are_refused(tmp_path):
    path = tmp_path / "test.h5"
    mri.write_fastmri_file(path, _phantom_volume(1))
    import h5py
    with h5py.File(path, "a") as f:
        f.create_dataset("mask", data=np.ones(20, np.float32))
    with pytest.raises(recon.ReconConfigError, match="already undersampled"):
        recon.build_problem(_config(fastmri_path=str(path)))
