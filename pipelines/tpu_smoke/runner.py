"""Runs the stages here, each in a fresh Python process with a timeout, and prints one JSON line each.

A fresh process per stage because libtpu lets one process at a time own the chips and because a
segfault in one stage must not hide the next. The eager, graph and library stages run twice: with the
PJRT variables off (TensorFlow's stream executor runtime, TPU v2/v3) and on (TPU v5e).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from .. import tpu_machines
from . import probe
from .child import MARKER

PJRT_VARIANTS = ("off", "on")
TPU_STAGES = ("eager", "graph", "library")
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def variant_env(base: dict[str, str], pjrt: str | None, libtpu_path: str) -> dict[str, str]:
    """`base` with the PJRT variables off or on (None: as they are), and this package importable."""
    env = dict(base)
    if pjrt == "off":
        env["NEXT_PLUGGABLE_DEVICE_USE_C_API"] = "false"
        env.pop("TF_PLUGGABLE_DEVICE_LIBRARY_PATH", None)
    elif pjrt == "on":
        env["NEXT_PLUGGABLE_DEVICE_USE_C_API"] = "true"
        env["TF_PLUGGABLE_DEVICE_LIBRARY_PATH"] = libtpu_path
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, base.get("PYTHONPATH", "")) if p)
    return env


def run_stage_process(stage: str, *, env: dict[str, str], timeout: float, expected_cores: int | None,
                      workdir: str, python: str = sys.executable) -> dict:
    """One stage in a child process: its JSON result, or timeout/crash with what the process left."""
    command = [python, "-m", "estimator_kfp.pipelines.tpu_smoke.child", stage, "--workdir", workdir]
    if expected_cores is not None:
        command += ["--expected-cores", str(expected_cores)]
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return probe.result(stage, probe.TIMEOUT, error=f"no result within {timeout:g} s; the process was killed",
                            seconds=round(time.monotonic() - started, 1))
    seconds = round(time.monotonic() - started, 1)
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            return {**json.loads(line[len(MARKER):]), "seconds": seconds}
    if process.returncode < 0:
        reason = f"killed by signal {signal.Signals(-process.returncode).name}"
    else:
        reason = f"exited with code {process.returncode} without a result"
    tail = [line for line in stderr.splitlines() if line.strip()][-5:]
    return probe.result(stage, probe.CRASH, error=reason, stderr_tail=tail, seconds=seconds)


def summarize(results: list[dict], machine: tpu_machines.TpuMachine | None) -> dict:
    """pass when the environment and every TPU stage pass on the runtime the machine uses (either
    runtime when the machine is unknown); no_tpu when nothing found a TPU."""
    variants = ["on" if tpu_machines.uses_pjrt(machine) else "off"] if machine else list(PJRT_VARIANTS)
    by_name = {(r["stage"], r.get("pjrt_variant")): r["status"] for r in results}
    environment_ok = by_name.get(("environment", None)) == probe.PASS
    runtime_ok = {v: all(by_name.get((s, v)) == probe.PASS for s in TPU_STAGES) for v in PJRT_VARIANTS}
    if environment_ok and any(runtime_ok[v] for v in variants):
        status = probe.PASS
    elif all(r["status"] == probe.NO_TPU for r in results):
        status = probe.NO_TPU
    else:
        status = probe.FAIL
    return probe.result(
        "summary",
        status,
        runtime_checked=["pjrt" if v == "on" else "stream_executor" for v in variants],
        passed_runtimes=[v for v in PJRT_VARIANTS if runtime_ok[v]],
        statuses={f"{s}" + (f"/pjrt_{v}" if v else ""): st for (s, v), st in by_name.items()},
    )


def run_here(
    *,
    machine: tpu_machines.TpuMachine | None = None,
    expected_cores: int | None = None,
    stage_timeout: float = 600.0,
    libtpu_path: str = tpu_machines.LIBTPU_PATH,
    stages: tuple[str, ...] = TPU_STAGES,
    emit: Callable[[str], None] = print,
    workdir: str | None = None,
    python: str = sys.executable,
) -> list[dict]:
    """Every stage on this machine, printed as it finishes; the last line is the summary."""
    if machine is not None and expected_cores is None:
        expected_cores = machine.cores
    results = []
    with tempfile.TemporaryDirectory(prefix="tpu_smoke_", dir=workdir) as scratch:
        plan = [("environment", None)] + [(stage, v) for v in PJRT_VARIANTS for stage in stages]
        for index, (stage, variant) in enumerate(plan):
            stage_dir = os.path.join(scratch, f"{index}_{stage}")
            os.makedirs(stage_dir)
            outcome = run_stage_process(
                stage,
                env=variant_env(dict(os.environ), variant, libtpu_path),
                timeout=stage_timeout,
                expected_cores=expected_cores,
                workdir=stage_dir,
                python=python,
            )
            outcome["pjrt_variant"] = variant
            results.append(outcome)
            emit(json.dumps(outcome, default=str))
    summary = summarize(results, machine)
    emit(json.dumps(summary))
    return results + [summary]
