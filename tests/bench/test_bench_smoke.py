"""The benchmark harness runs end to end on its tiniest setting (no TF 2.15 venv, no timing checks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench import models, report
from bench.cli import parse_args
from bench.runner import run_variant
from bench.timing import CallClock, WindowRule

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_smoke_run_writes_results_and_report(tmp_path):
    out = tmp_path / "bench"
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,  # 4 min at load 9 on 2 cores
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    by_path = {(r["path"], r["k"]) for r in results}
    assert {("hand", 1), ("hand", 2), ("keras", 1), ("keras", 2)} <= by_path
    for r in results:
        assert r["ok"], r
        assert r["steps_ok"], r  # every call ran exactly K steps
        assert r["steady_ex_s"] > 0 and r["ttfs_s"] > 0
        if r["k"] == 1:
            assert r["export_bytes"] > 0 and r["sig_ex_s"] > 0 and r["predict_ex_s"] > 0
    text = (out / "report.md").read_text()
    assert "| tiny | 2 | hand |" in text and "× hand loop" in text


def test_unknown_model_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"received model='resnet'.*Choose one of"):
        models.get_config("resnet")


def test_runner_reports_a_bad_k_as_a_failed_result():
    result = run_variant("keras", "tiny", 0, None, None)
    assert not result["ok"] and "K must be >= 1: received k=0" in result["error"]


def test_unknown_path_is_refused_by_the_driver(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--paths", "hand,jax"])
    assert "unknown path(s) ['jax']" in capsys.readouterr().err


def test_window_rule_validates_and_clock_counts_examples():
    with pytest.raises(ValueError, match=r"min_calls must be >= 1: received warmup_calls=2, min_calls=0"):
        WindowRule(min_calls=0)
    clock = CallClock(WindowRule(warmup_calls=1, warmup_seconds=0.0, min_calls=2, min_seconds=0.0), 10, 4)
    clock.begin()
    done = [clock.record() for _ in range(3)]
    assert done == [False, False, True]
    summary = clock.summary()
    assert summary["window_calls"] == 2 and summary["steady_ex_s"] > 0


def test_report_compares_to_the_hand_loop_and_the_original():
    def run(path, k, rate, ttfs):
        return {"ok": True, "path": path, "model": "mlp", "k": k, "steady_ex_s": rate, "ttfs_s": ttfs,
                "call_s_median": 64 * k / rate, "eval_s": [1.0], "loadavg_start": 1.0}

    results = [run("hand", 100, 1000.0, 1.0), run("lib-tpu", 100, 960.0, 0.5), run("lib-tpu", 1, 500.0, 0.5),
               run("tf215-tpu", 1, 400.0, 0.6)]
    text = report.render(results)
    assert "| mlp | 100 | lib-tpu | 960 (960–960) | 1 | 0.96x | 2.40x | 0.96x | 2.40x |" in text
    assert "mlp K=100 throughput, lib-tpu / hand loop: 0.960x (>= 0.95; best runs 0.96x) — **MET**" in text
    assert "mlp time to first step, lib-tpu / tf215-tpu: 0.833x (<= 1.0) — **MET**" in text
