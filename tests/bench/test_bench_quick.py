"""`python -m bench --quick`: its plan, its target lines and the XLA variants it runs.

Fast on purpose (no TensorFlow run): the quick mode itself takes minutes and needs the TF 2.15 venv,
so its plan and its rendering are checked on their own; no timing checks.
"""

from __future__ import annotations

from bench import apis, cli, report, runner


def test_quick_plan_interleaves_ours_and_the_original_for_every_target():
    args = cli.parse_args(["--quick"])
    planned = cli.variants(args)
    assert args.repeats == 3 and len(planned) == len(set(planned))
    for ours, original in (("lib-est", "tf215-est"), ("lib-tpu", "tf215-tpu")):
        assert (ours, "mlp", 1) in planned and (original, "mlp", 1) in planned
        assert cli.wants_extras((ours, "mlp", 1), quick=True)  # first step, first prediction, evaluate
    assert ("lib-tpu", "mlp", 100) in planned and ("hand", "mlp", 100) in planned
    assert {("lib-tpu-xla", "cnn", 100), ("lib-tpu-xla", "cnn", 1), ("lib-est-xla", "cnn", 1)} <= set(planned)
    assert not cli.wants_extras(("lib-tpu-xla", "cnn", 100), quick=True)
    assert not any(path.endswith("-xla") for path in cli.parse_args([]).paths.split(","))  # full suite: opt-in


def _run(path, model, k, rate, cpu_rate, **extra):
    return {"ok": True, "path": path, "model": model, "k": k, "steady_ex_s": rate, "cpu_ex_s": cpu_rate,
            "call_s_median": 64 * k / rate, "loadavg_start": 2.0, **extra}


def test_quick_output_states_every_target_with_its_rule_and_verdict():
    startup = dict(ttfs_s=0.2, ttfs_cpu_s=0.3, predict_first_s=0.1, predict_first_cpu_s=0.1, eval_s=[0.2, 0.2],
                   eval_cpu_s=[0.3, 0.3])
    original_startup = dict(ttfs_s=0.25, ttfs_cpu_s=0.3, predict_first_s=0.08, predict_first_cpu_s=0.1,
                            eval_s=[0.4, 0.4], eval_cpu_s=[0.5, 0.5])
    results = [
        _run("lib-est", "mlp", 1, 1000.0, 800.0, **startup),
        _run("tf215-est", "mlp", 1, 800.0, 700.0, **original_startup),
        _run("lib-tpu", "mlp", 100, 950.0, 900.0),
        _run("hand", "mlp", 100, 1000.0, 900.0),
        _run("lib-tpu-xla", "cnn", 100, 130.0, 130.0),
        _run("tf215-tpu", "cnn", 1, 100.0, 100.0),
        {"ok": False, "path": "lib-est-xla", "model": "cnn", "k": 1, "error": "boom", "loadavg_start": 2.0},
    ]
    text = report.render_targets(results)
    assert text.startswith("Machine: 7 runs (6 ok)")
    assert (
        "mlp K=1 time per step, lib-est / tf215-est: 0.800x (<= 0.85; best runs 0.80x; per CPU-second 0.88x) — **MET**"
        in text
    )
    assert (
        "mlp K=100 throughput, lib-tpu / hand loop: 0.950x (>= 0.95; best runs 0.95x; per CPU-second 1.00x) — **MET**"
        in text
    )
    assert (
        "cnn K=100 throughput, lib-tpu-xla / tf215-tpu: 1.300x (>= 1.2; best runs 1.30x; per CPU-second 1.30x) "
        "— **MET**"
        in text
    )
    assert "mlp time to first step, lib-est / tf215-est: 0.800x (<= 1.0; CPU time 1.00x) — **MET**" in text
    assert "mlp time to first prediction, lib-est / tf215-est: 1.250x (<= 1.0; CPU time 1.00x) — **MISSED**" in text
    assert "mlp evaluate call, lib-est / tf215-est: 0.500x (<= 0.7; CPU time 0.60x) — **MET**" in text
    assert "FAILED lib-est-xla cnn K=1: boom" in text


def test_xla_paths_are_known_to_the_runner_and_sweep_k():
    """The compiled step itself is tested in tests/estimator_lib/test_jit_compile.py."""
    assert {"lib-est-xla", "lib-tpu-xla"} <= set(runner.LIB_PATHS) and "lib-tpu-xla" in runner.K_PATHS
    assert set(apis.AVAILABILITY_CHECKS) >= {"lib-est-xla", "lib-tpu-xla"}
    assert report.ORIGINAL_OF["lib-tpu-xla"] == "tf215-tpu"
    args = cli.parse_args(["--paths", "lib-tpu-xla", "--models", "cnn", "--ks", "1,100"])
    assert cli.variants(args) == [("lib-tpu-xla", "cnn", 1), ("lib-tpu-xla", "cnn", 100)]
