"""bench/bench_gpu.py, the prepared accelerator check: a smoke run at tiny sizes on the CPU, so
the script a lent GPU's scarce minutes go to is known to run end to end."""
import json
import math
import os
import subprocess
import sys

import pytest

from bench import bench_gpu
from conftest import FAST_COMPILE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _strict(path):
    def no_nan(name):
        raise ValueError(f"non-strict JSON constant {name}")
    with open(path) as f:
        return json.load(f, parse_constant=no_nan)


def test_quick_run_measures_every_part_and_writes_strict_json(tmp_path):
    # In its own process with the users' XLA settings: the suite's fast-compile setting
    # (conftest.py) compiles these programs slower (unet part 49 vs 37 s, mri 30 vs 13 s).
    env = dict(os.environ, XLA_FLAGS=" ".join(f for f in os.environ.get("XLA_FLAGS", "").split()
                                              if f != FAST_COMPILE))
    run = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench_gpu.py"), "--quick", "--repeats", "1",
                          "--out", str(tmp_path)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    res = _strict(tmp_path / "bench_gpu.json")
    assert res["skipped"] == []
    for dtype in ("float32", "bfloat16"):
        row = res["unet"][dtype]
        assert row["batch"] == 4 and row["params"] > 0
        assert all(row[k] > 0 for k in ("forward_ms", "step_ms", "images_per_s"))
    assert res["unet"]["float32"]["bare_ms"] > 0 and res["unet"]["bfloat16"]["bare_ms"] is None   # NaN -> null
    # the float32 / bfloat16 comparison is made on non-zero outputs: finite, and bfloat16-sized
    assert 1e-4 < res["unet"]["bf16_relative_score_difference"] < 5e-2
    s = res["samplers"]
    assert s["pc_nfe"] == 6 and s["dpm_steps"] == 2 and s["dpm_images"] == 2   # 3 levels × (EM + Langevin)
    assert math.isfinite(s["pc_per_nfe_over_forward"]) and s["pc_per_nfe_over_forward"] > 0
    assert res["mri"]["argv"][:2] == ["--sizes", "32"]
    assert "| 32 | 1 |" in out           # bench_mri_fullsize's row for the 32 px slice
    assert "NCSN++ CIFAR-10 config" in out and "DPM-Solver++(2M), 2 steps" in out


def test_budget_skips_parts_and_unknown_parts_are_refused(tmp_path, capsys):
    res = bench_gpu.main(["--quick", "--budget_s", "0", "--parts", "samplers,mri", "--out", str(tmp_path)])
    assert res["skipped"] == ["samplers", "mri"]
    assert "part mri skipped" in capsys.readouterr().out
    assert _strict(tmp_path / "bench_gpu.json")["skipped"] == ["samplers", "mri"]
    with pytest.raises(SystemExit, match="unknown parts"):
        bench_gpu.main(["--parts", "unet,gpu"])
