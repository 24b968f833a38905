"""models.torch_io reads torch.save files without PyTorch and refuses pickled code.

Hostile files are assembled here from pickle opcodes, so nothing in them is ever executed.
"""
from __future__ import annotations

import collections
import struct
import zipfile

import numpy as np
import pytest

import peer_cases as pc
from models.torch_io import TensorSpec, TorchFileError, UnsafePickleError, read_torch_file


def _get(obj, key: str):
    for part in key.split("."):
        obj = obj[int(part)] if isinstance(obj, (list, tuple)) else obj[part]
    return obj


@pytest.mark.parametrize("fname", ["torchio_zip.pt", "torchio_legacy.pt"])
def test_both_formats_give_the_saved_tensors(fname):
    obj = read_torch_file(pc.path(fname))
    expected = np.load(pc.path("torchio_expected.npz"))
    assert isinstance(obj, collections.OrderedDict)
    for key in expected.files:
        got = _get(obj, key)
        assert isinstance(got, np.ndarray) and got.flags["C_CONTIGUOUS"], key
        assert got.shape == expected[key].shape, key
        np.testing.assert_array_equal(got.astype(expected[key].dtype), expected[key], err_msg=key)
    # dtypes survive (bfloat16 via ml_dtypes), views are copies of the right elements
    assert str(obj["bf16"].dtype) == "bfloat16" and obj["f16"].dtype == np.float16
    assert obj["i64"].dtype == np.int64 and obj["b"].dtype == np.bool_ and obj["c64"].dtype == np.complex64
    np.testing.assert_array_equal(obj["transposed"], obj["base"].T)
    np.testing.assert_array_equal(obj["sliced"], obj["base"][1:, 2:])
    assert obj["scalar"].shape == () and obj["empty"].shape == (0, 3)
    assert obj["nested"]["list"][1:] == [1, "a", None, 2.5, True]
    assert isinstance(obj["nested"]["tuple"], tuple) and obj["nested"]["tuple"][1] == 3
    assert obj["step"] == 7
    # Without tensors: the same structure, shapes and dtypes, no storage read.
    specs = read_torch_file(pc.path(fname), tensors=False)
    assert specs["step"] == 7 and specs["nested"]["list"][1:] == obj["nested"]["list"][1:]
    for key in expected.files:
        spec = _get(specs, key)
        assert isinstance(spec, TensorSpec) and spec.shape == _get(obj, key).shape, key
        assert spec.dtype == _get(obj, key).dtype, key


# ----------------------------------------------------------------------- hostile input

def _str(s: str) -> bytes:
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b          # BINUNICODE


def _glob(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"   # GLOBAL


def _tensor_pickle(numel: int, size: int) -> bytes:
    """_rebuild_tensor_v2(<FloatStorage '0' of numel>, 0, (size,), (1,), False, OrderedDict())."""
    pid = b"(" + _str("storage") + _glob("torch", "FloatStorage") + _str("0") + _str("cpu") + \
        b"K" + bytes([numel]) + b"tQ"                     # MARK … TUPLE BINPERSID
    hooks = _glob("collections", "OrderedDict") + b")R"   # EMPTY_TUPLE REDUCE
    args = b"(" + pid + b"K\x00" + b"K" + bytes([size]) + b"\x85" + b"K\x01\x85" + b"\x89" + hooks + b"t"
    return b"\x80\x02" + _glob("torch._utils", "_rebuild_tensor_v2") + args + b"R."


def _zip(path, pkl: bytes, storages: dict[str, bytes]) -> str:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", "little")
        for key, raw in storages.items():
            z.writestr(f"archive/data/{key}", raw)
    return str(path)


def test_hand_built_archive_reads_and_out_of_bounds_views_are_refused(tmp_path):
    raw = np.arange(4, dtype="<f4").tobytes()
    ok = _zip(tmp_path / "ok.pt", _tensor_pickle(4, 4), {"0": raw})
    np.testing.assert_array_equal(read_torch_file(ok), np.arange(4, dtype=np.float32))
    bad = _zip(tmp_path / "bad.pt", _tensor_pickle(4, 100), {"0": raw})
    with pytest.raises(TorchFileError, match="reaches element 99 of a storage of 4"):
        read_torch_file(bad)
    missing = _zip(tmp_path / "missing.pt", _tensor_pickle(4, 4), {})
    with pytest.raises(TorchFileError, match="storage '0' is missing"):
        read_torch_file(missing)


@pytest.mark.parametrize("module,name", [("posix", "system"), ("os", "system"), ("builtins", "eval"),
                                         ("torch._utils", "_rebuild_qtensor"), ("subprocess", "Popen")])
def test_a_pickle_asking_for_another_global_is_refused_by_name(tmp_path, module, name):
    marker = tmp_path / "pwned"
    # What pickle.dumps writes for an object whose __reduce__ is (os.system, ("touch …",)).
    evil = b"\x80\x02" + _glob(module, name) + _str(f"touch {marker}") + b"\x85R."
    for path in (_zip(tmp_path / "evil.pth", evil, {}), tmp_path / "evil_legacy.pth"):
        if not isinstance(path, str):
            path.write_bytes(evil)
        with pytest.raises(UnsafePickleError, match=rf"{module}\.{name}"):
            read_torch_file(path)
    assert not marker.exists()


def test_truncated_files_and_other_formats_name_the_file(tmp_path):
    full = open(pc.path("torchio_zip.pt"), "rb").read()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(full[: len(full) // 2])
    with pytest.raises(TorchFileError, match="cut.pt.*truncated"):
        read_torch_file(cut)
    legacy = open(pc.path("torchio_legacy.pt"), "rb").read()
    for n in (len(legacy) - 10, len(legacy) // 2, 40):
        cut.write_bytes(legacy[:n])
        with pytest.raises(TorchFileError, match="cut.pt"):
            read_torch_file(cut)
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint\n")
    with pytest.raises(TorchFileError, match="notes.txt: not a torch.save file"):
        read_torch_file(text)
    npz = tmp_path / "arrays.npz"
    np.savez(npz, a=np.ones(3))
    with pytest.raises(TorchFileError, match="not a torch.save archive"):
        read_torch_file(npz)
    with pytest.raises(FileNotFoundError):
        read_torch_file(tmp_path / "absent.pt")
