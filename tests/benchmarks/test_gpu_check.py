"""benchmarks/gpu_check.sh: its arguments, and its reduced form on CPU (what CI runs; on a GPU it runs in full)."""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "gpu_check.sh"


def gpu_check(*args, cwd=None):
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, cwd=cwd)


def test_help_and_bad_arguments():
    assert "device = \"cuda\"" in gpu_check("--help").stdout
    bad = gpu_check("--device", "tpu")
    assert bad.returncode == 2 and "--device must be cpu, cuda or cuda:N" in bad.stderr
    assert gpu_check("--fast").returncode == 2


def test_the_reduced_check_runs_on_cpu_and_prints_one_line_each(tiny_folder, tmp_path):
    result = gpu_check("--device", "cpu", "--reduced", "--model", tiny_folder, "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["gpu_check study", "icl_scoring", "finetune_throughput"]
    assert "cells=3/3" in lines[0] and "device=cpu precision=float32" in lines[0]
