"""Results are never silently replaced and never seen half-written: sample / eval refuse an
existing result unless ``--overwrite``, a recon folder appears whole or not at all, and a writer
killed mid-file leaves only a hidden temporary name."""
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from test_cli import ROOT, cli
from toy_runs import tiny_config, train_here


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    w = tmp_path_factory.mktemp("outputs") / "w"
    train_here(w, 100, 100)
    return w


def test_sample_and_eval_refuse_to_replace_results_unless_overwrite(trained, capsys):
    from run.evaluate import evaluate
    from run.files import OutputExists
    from run.sample import sample
    config = tiny_config()
    path = sample(config, str(trained))
    assert path.endswith("samples_100.npz") and "using checkpoint 100" in capsys.readouterr().err
    first = np.load(path)["samples"]
    mtime = os.stat(path).st_mtime_ns
    with pytest.raises(OutputExists, match="samples_100.npz exists; pass --overwrite"):
        sample(config, str(trained))
    assert os.stat(path).st_mtime_ns == mtime
    config.seed = 7   # another setting, same name: only --overwrite replaces the file
    assert sample(config, str(trained), overwrite=True) == path
    assert not np.array_equal(np.load(path)["samples"], first)
    assert '"seed": 7' in str(np.load(path)["settings"])   # the file says what made it
    evaluate(tiny_config(), str(trained))
    with pytest.raises(OutputExists, match="eval_100.json"):
        evaluate(tiny_config(), str(trained))
    leftovers = [n for d in (trained, trained / "samples") for n in os.listdir(d) if ".tmp-" in n]
    assert not leftovers, leftovers


def test_command_line_refusal_exits_2_before_any_compute(trained):
    from run.files import atomic_json
    atomic_json(str(trained / "eval_100.json"), {}, overwrite=True)   # as if eval had run
    out = cli(trained, "eval", check=False, timeout=180)
    assert out.returncode == 2 and "eval_100.json exists; pass --overwrite" in out.stderr, out.stderr[-2000:]
    assert "Traceback" not in out.stderr


def _fake_recon(n=2, size=8):
    from run.recon.problem import Problem
    rng = np.random.default_rng(0)
    gt = rng.random((n, size, size)).astype(np.float32)
    problem = Problem(gt=gt, y=None, operator=None, mask=np.ones((size, size)), complex_data=False, source="test",
                      slice_ids=[f"s{i}" for i in range(n)])
    results = {name: dict(image=gt + 0.01 * k, std=np.zeros_like(gt), seconds=0.1, compile_seconds=0.0, nfe=k)
               for k, name in enumerate(["zero_filled", "dds"])}
    return problem, results


def test_recon_folder_appears_whole_or_not_at_all(tmp_path):
    from run.files import OutputExists
    from run.recon.output import write_outputs
    problem, results = _fake_recon()
    out = tmp_path / "recon" / "dds_x"
    write_outputs(str(out), problem, results, "dds", {"mask": "m"}, figures=False)
    assert sorted(os.listdir(out)) == ["images.npz", "metrics.csv", "metrics.json"]
    with pytest.raises(OutputExists, match="dds_x exists"):
        write_outputs(str(out), problem, results, "dds", {"mask": "m"}, figures=False)
    results["dds"]["nfe"] = 99
    write_outputs(str(out), problem, results, "dds", {"mask": "m"}, figures=False, overwrite=True)
    assert '"nfe": 99' in (out / "metrics.json").read_text()
    # A writer that fails half-way (as a kill would stop it) leaves neither a folder nor debris.
    broken = dict(results, dds=dict(results["dds"], image=None))
    with pytest.raises(Exception):
        write_outputs(str(tmp_path / "recon" / "broken"), problem, broken, "dds", {"mask": "m"}, figures=False)
    assert sorted(os.listdir(tmp_path / "recon")) == ["dds_x"]


def test_a_file_killed_mid_write_is_never_taken_for_a_finished_one(tmp_path):
    code = ("import sys, time; from run.files import atomic_write\n"
            "def write(p):\n"
            "    f = open(p, 'w'); f.write('half'); f.flush(); print('writing', flush=True); time.sleep(60)\n"
            "atomic_write(sys.argv[1], write)\n")
    target = tmp_path / "result.json"
    p = subprocess.Popen([sys.executable, "-c", code, str(target)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "writing"
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not target.exists() and os.listdir(tmp_path) == [f".result.tmp-{p.pid}.json"]
    from run.files import atomic_json
    atomic_json(str(target), {"ok": 1})   # the leftover is not in the way
    assert target.read_text().strip().startswith("{")
