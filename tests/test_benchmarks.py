"""The GPU benchmark script, run end to end in its CPU dry-run mode (no timing is asserted)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_script_dry_run_writes_both_results(tmp_path, fake_mnist_dir):
    out = tmp_path / "results"
    env = {**os.environ, "DATA_DIR": str(fake_mnist_dir), "OUT_DIR": str(out),
           "BENCH_DATASET": "mnist", "PYTHON": sys.executable}
    done = subprocess.run(["bash", "benchmarks/gpu.sh", "--dry-run"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    throughput = json.loads((out / "dry-run-throughput.json").read_text())
    assert throughput["device"] == "cpu" and isinstance(throughput["cpu_flags"], list)
    assert throughput["usual_pairs_per_s"] > 0 and throughput["ours_fp32_pairs_per_s"] > 0
    assert "ours_compiled_pairs_per_s" not in throughput  # no compile in the dry run
    train = json.loads((out / "dry-run-mnist-smoke-train.json").read_text())
    assert (train["dataset"], train["profile"], train["epochs"]) == ("mnist", "smoke", 3)
    assert train["train_s"] > 0 and train["elbow_k"] >= 2


@pytest.mark.slow
def test_distributed_throughput_script_times_one_and_two_processes(tmp_path, fake_mnist_dir):
    out = tmp_path / "distributed.json"
    done = subprocess.run([sys.executable, "benchmarks/distributed_throughput.py", "--dataset",
                           "mnist", "--data-dir", str(fake_mnist_dir), "--steps", "1",
                           "--repeats", "1", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    one, two = result["configurations"][0], result["configurations"][-1]
    assert (one["processes"], one["backend"], two["processes"], two["backend"]) == (1, None, 2, "gloo")
    assert all(row["pairs_per_s"] > 0 for row in result["configurations"])
    assert isinstance(result["cpu_flags"], list)


def test_step_kernels_sums_onednn_time_per_primitive_and_step():
    spec = importlib.util.spec_from_file_location("step_kernels", ROOT / "benchmarks" / "step_kernels.py")
    step_kernels = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(step_kernels)
    conv = ("onednn_verbose,v1,primitive,exec,cpu,convolution,brg_conv_fwd:avx512_core,"
            "forward_training,src:f32::blocked:acdb::f0,attr-scratchpad:user,"
            "alg:convolution_direct,mb512_ic1oc16_ih28oh14,{ms}")
    lines = [conv.format(ms=9.0),  # a warm-up step: not counted
             f"{step_kernels.MARK} fp32",
             conv.format(ms=1.5), conv.format(ms=2.5),
             "onednn_verbose,v1,primitive,create:cache_hit,cpu,convolution,x,forward_training,1.0",
             "== step ms 12.500"]
    per_step, step_ms, precision = step_kernels.primitive_times(lines, steps=2)
    assert per_step == {"convolution forward_training mb512_ic1oc16_ih28oh14": 2.0}
    assert (step_ms, precision) == (12.5, "fp32")


def test_step_kernels_reads_the_profilers_self_time_per_operator():
    spec = importlib.util.spec_from_file_location("step_kernels", ROOT / "benchmarks" / "step_kernels.py")
    step_kernels = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(step_kernels)
    lines = [f"{step_kernels.OP} 4.4630 aten::gelu_backward",
             f"{step_kernels.OP} 0.1875 Optimizer.step#Lars.step",
             "onednn_verbose,v1,primitive,exec,cpu,eltwise,x,forward_training,1.0",
             f"{step_kernels.MARK} fp32"]
    assert step_kernels.operator_times(lines) == {"aten::gelu_backward": 4.463,
                                                  "Optimizer.step#Lars.step": 0.1875}


def _binder():
    spec = importlib.util.spec_from_file_location("binder", ROOT / "benchmarks" / "binder.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_binder_benchmark_pins_one_core_and_measures_an_import(monkeypatch):
    binder = _binder()
    monkeypatch.setattr(binder.shutil, "which", lambda name: "/usr/bin/taskset")
    assert binder.pinned(["python", "-V"]) == ["taskset", "-c", "0", "python", "-V"]
    monkeypatch.setattr(binder.shutil, "which", lambda name: None)
    assert binder.pinned(["python", "-V"]) == ["python", "-V"]
    cost = binder.import_cost("json")
    assert cost["seconds"] >= 0 and cost["peak_rss_mb"] > 0


def test_binder_note_reads_each_result_against_its_targets(tmp_path):
    from cae.report.timings import binder_note

    assert binder_note(tmp_path).startswith("Not yet measured")
    result = {"cpu": "Some CPU", "cpu_flags": ["avx2"], "profile": "quick", "wall_s": 317.0,
              "peak_rss_mb": 2300, "targets": {"peak_rss_mb": 2048, "wall_s": 600},
              "met": {"peak_rss_mb": False, "wall_s": True},
              "imports": {"torch": {"seconds": 1.5, "peak_rss_mb": 400}}}
    (tmp_path / "binder-1core-some.json").write_text(json.dumps(result))
    assert binder_note(tmp_path).splitlines()[0] == (
        "- Some CPU (avx2), one core, `quick` profile, fresh runs folder: 5 min 17 s and a peak "
        "of 2,300 MB (over the 2,048 MB target, under the 600 s target). Alone, `import torch` "
        "1.5 s and 400 MB.")
    result["runs"] = [{"steps": 360, "precision": "fp32", "wall_time_s": {"train": 65.0}}]
    (tmp_path / "binder-1core-some.json").write_text(json.dumps(result))
    assert "fresh runs folder (360 optimizer steps in fp32, training 1 min 5 s):" in binder_note(tmp_path)
