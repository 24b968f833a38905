"""fastMRI .h5 writer / reader round trip and error messages."""
import h5py
import numpy as np
import pytest

import mri


def crandn(rng, *shape):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def test_singlecoil_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    kspace = crandn(rng, 3, 10, 8)
    target = np.abs(rng.standard_normal((3, 6, 6))).astype(np.float32)
    path = mri.write_fastmri_file(tmp_path / "single.h5", kspace, target, acquisition="CORPD_FBK")
    vol = mri.FastMRIVolume(path)
    assert vol.num_slices == len(vol) == 3 and not vol.is_multicoil
    assert vol.acquisition == "CORPD_FBK"
    assert vol.max == pytest.approx(float(target.max()))
    assert vol.target_key == "reconstruction_esc"
    s = vol.slice(1)
    np.testing.assert_array_equal(s["kspace"], kspace[1])
    np.testing.assert_array_equal(s["target"], target[1])
    assert s["kspace"].dtype == np.complex64 and s["mask"] is None
    np.testing.assert_array_equal(vol.slice(-1)["kspace"], kspace[2])
    assert [x["kspace"][0, 0] for x in vol] == list(kspace[:, 0, 0])
    with pytest.raises(IndexError):
        vol.slice(3)


def test_multicoil_round_trip_without_target(tmp_path):
    rng = np.random.default_rng(1)
    kspace = crandn(rng, 2, 4, 12, 10)
    path = mri.write_fastmri_file(tmp_path / "multi.h5", kspace, acquisition="AXT2", max_value=3.5)
    vol = mri.FastMRIVolume(path)
    assert vol.is_multicoil and vol.num_slices == 2 and vol.kspace_shape == (2, 4, 12, 10)
    assert vol.acquisition == "AXT2" and vol.max == pytest.approx(3.5)
    s = vol.slice(0)
    assert s["target"] is None
    np.testing.assert_array_equal(s["kspace"], kspace[0])
    # a multi-coil file with a target stores it as reconstruction_rss
    target = np.asarray(mri.ssos_combine(kspace, coil_axis=1))
    mri.write_fastmri_file(tmp_path / "multi2.h5", kspace, target)
    vol2 = mri.FastMRIVolume(tmp_path / "multi2.h5")
    assert vol2.target_key == "reconstruction_rss"
    np.testing.assert_allclose(vol2.slice(1)["target"], target[1])
    assert vol2.max == pytest.approx(float(target.max()))


def test_reader_prefers_challenge_target_and_reads_mask(tmp_path):
    path = tmp_path / "both.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("kspace", data=np.zeros((1, 4, 4), np.complex64))
        f.create_dataset("reconstruction_rss", data=np.full((1, 2, 2), 2.0, np.float32))
        f.create_dataset("reconstruction_esc", data=np.full((1, 2, 2), 1.0, np.float32))
        f.create_dataset("mask", data=np.array([0, 1, 1, 0], bool))
    vol = mri.FastMRIVolume(path)
    assert vol.target_key == "reconstruction_esc" and vol.acquisition is None and vol.max is None
    s = vol.slice(0)
    assert s["target"][0, 0] == 1.0
    np.testing.assert_array_equal(s["mask"], [0, 1, 1, 0])


def test_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.h5"
    with pytest.raises(mri.FastMRIFormatError, match=r"nope\.h5.*does not exist"):
        mri.FastMRIVolume(missing)

    text = tmp_path / "notes.h5"
    text.write_text("this is not hdf5")
    with pytest.raises(mri.FastMRIFormatError, match=r"notes\.h5.*not an HDF5") as err:
        mri.FastMRIVolume(text)
    assert str(text) in str(err.value)
    assert isinstance(err.value, ValueError)

    nokey = tmp_path / "nokey.h5"
    with h5py.File(nokey, "w") as f:
        f.create_dataset("reconstruction_rss", data=np.zeros((1, 2, 2), np.float32))
    with pytest.raises(mri.FastMRIFormatError, match=r"nokey\.h5.*missing the 'kspace'.*reconstruction_rss") as err:
        mri.FastMRIVolume(nokey)
    assert str(nokey) in str(err.value)

    bad = tmp_path / "real.h5"
    with h5py.File(bad, "w") as f:
        f.create_dataset("kspace", data=np.zeros((1, 2, 2, 2, 2), np.complex64))
    with pytest.raises(mri.FastMRIFormatError, match=r"real\.h5.*shape"):
        mri.FastMRIVolume(bad)


def test_slice_reads_only_the_arrays_asked_for(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    kspace, target = crandn(rng, 2, 3, 8, 6), rng.random((2, 6, 6)).astype(np.float32)
    vol = mri.FastMRIVolume(mri.write_fastmri_file(tmp_path / "m.h5", kspace, target))
    reads = []

    class Spy(h5py.File):   # records every dataset the reader indexes
        def __getitem__(self, key):
            reads.append(key)
            return super().__getitem__(key)
    monkeypatch.setattr(mri.fastmri.h5py, "File", Spy)
    s = vol.slice(1, kspace=False)
    assert s["kspace"] is None and reads == ["reconstruction_rss"]
    np.testing.assert_array_equal(s["target"], target[1])
    reads.clear()
    s = vol.slice(0, target=False)
    assert s["target"] is None and reads == ["kspace"]
    np.testing.assert_array_equal(s["kspace"], kspace[0])


@pytest.mark.parametrize("shape,fov,size", [((24, 20), 20, 20), ((25, 19), 19, 11), ((23, 21), 13, 13),
                                            ((8, 11), 7, 6), ((64, 37), 32, 16)])
def test_square_image_and_kspace_match_the_shifted_definition(shape, fov, size):
    """The output-only shifts (a phase ramp on the kept samples) against the definition: the
    centred inverse FFT of the whole array, its central fov x fov, the centre of its k-space."""
    rng = np.random.default_rng(sum(shape) + fov + size)
    k = crandn(rng, 3, *shape)
    image = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k.astype(np.complex128), axes=(-2, -1)), norm="ortho"),
                            axes=(-2, -1))
    top, left = (shape[0] - fov) // 2, (shape[1] - fov) // 2
    want_k = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(image[..., top:top + fov, left:left + fov], axes=(-2, -1)),
                                         norm="ortho"), axes=(-2, -1))
    c = (fov - size) // 2
    want_k = want_k[..., c:c + size, c:c + size]
    want_x = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(want_k, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    got_k, got_x = mri.square_kspace(k, fov, size), mri.square_image(k, fov, size)
    assert got_k.dtype == got_x.dtype == np.complex64 and got_x.shape == (3, size, size)
    np.testing.assert_allclose(got_k, want_k, atol=2e-6 * np.abs(want_k).max())
    np.testing.assert_allclose(got_x, want_x, atol=2e-6 * np.abs(want_x).max())
    with pytest.raises(ValueError, match="does not fit"):
        mri.square_image(k, min(shape) + 1)
    with pytest.raises(ValueError, match="only reduces resolution"):
        mri.square_image(k, fov, fov + 1)
