"""Turns runner results (one dict per run) into Markdown tables and the target checks."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import Any

Key = tuple[str, str, int]  # (model, path, K)

# Targets from the issue: K=100 throughput against the hand loop, per model.
HAND_TARGETS = {"mlp": 0.95, "cnn": 0.98}
PATH_ORDER = ("hand", "keras", "lib-tpu", "lib-est", "lib-tpu-xla", "lib-est-xla", "tf215-tpu", "tf215-est")
# Each estimator_lib path and the original it is compared with. The original runs one step per
# session.run off-TPU whatever iterations_per_loop is, so its K=1 figure is its figure at every K.
ORIGINAL_OF = {"lib-tpu": "tf215-tpu", "lib-est": "tf215-est", "lib-tpu-xla": "tf215-tpu", "lib-est-xla": "tf215-est"}
# Issue 15's targets against the original. MLP at K=1 is stated as time per step (ours / original).
MLP_K1_STEP_TIME = 0.85
EVAL_CALL = 0.7
XLA_K100 = 1.2


def throughput_rule(model: str, path: str, k: int) -> tuple[str, float]:
    """('step_time', max ratio) or ('throughput', min ratio) of a path against its original."""
    if path.endswith("-xla"):
        return "throughput", XLA_K100 if k >= 100 else 1.0
    if model == "mlp" and k == 1:
        return "step_time", MLP_K1_STEP_TIME
    return "throughput", 1.0


def _median_of(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, list):
        return statistics.median(value) if value else None
    return float(value)


class Stats:
    """Median and spread of one figure over the repeats of one variant."""

    def __init__(self, values: Iterable[float | None]) -> None:
        self.values = sorted(v for v in values if v is not None)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    @property
    def best(self) -> float | None:
        """The largest value: for a rate, the run least disturbed by other work on the machine."""
        return self.values[-1] if self.values else None

    def spread(self, fmt: str) -> str:
        if not self.values:
            return "-"
        return f"{format(self.values[0], fmt)}–{format(self.values[-1], fmt)}"

    def cell(self, fmt: str, scale: float = 1.0) -> str:
        if not self.values:
            return "-"
        lo, mid, hi = (v * scale for v in (self.values[0], self.median, self.values[-1]))
        return f"{format(mid, fmt)} ({format(lo, fmt)}–{format(hi, fmt)})"


def group(results: Sequence[dict[str, Any]]) -> dict[Key, list[dict[str, Any]]]:
    """Successful runs grouped by variant."""
    groups: dict[Key, list[dict[str, Any]]] = {}
    for r in results:
        if r.get("ok"):
            groups.setdefault((r["model"], r["path"], int(r["k"])), []).append(r)
    return groups


def stat(groups: dict[Key, list[dict[str, Any]]], key: Key, field: str) -> Stats:
    """The figure `field` over a variant's runs (list-valued figures contribute their median)."""
    return Stats(_median_of(r.get(field)) for r in groups.get(key, []))


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def _fmt_ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def _ordered(keys: Iterable[Key]) -> list[Key]:
    def order(key: Key) -> tuple[str, int, int]:
        model, path, k = key
        rank = PATH_ORDER.index(path) if path in PATH_ORDER else len(PATH_ORDER)
        return (model, k, rank)

    return sorted(keys, key=order)


def throughput_table(groups: dict[Key, list[dict[str, Any]]], field: str = "steady_ex_s") -> str:
    """Steady examples/sec per variant with its ratio to the hand loop (same K) and the original."""
    unit = "examples per CPU-second" if field == "cpu_ex_s" else "steady examples/s"
    lines = [
        f"| model | K | path | {unit}: median (min–max) | runs | × hand loop | × original "
        "| × hand, best runs | × original, best runs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key in _ordered(groups):
        model, path, k = key
        s = stat(groups, key, field)
        hand = stat(groups, (model, "hand", k), field)
        original = ORIGINAL_OF.get(path)
        orig = stat(groups, (model, original, 1), field) if original else Stats([])
        lines.append(
            f"| {model} | {k} | {path} | {s.cell(',.0f')} | {s.n} | {_fmt_ratio(_ratio(s.median, hand.median))} "
            f"| {_fmt_ratio(_ratio(s.median, orig.median))} | {_fmt_ratio(_ratio(s.best, hand.best))} "
            f"| {_fmt_ratio(_ratio(s.best, orig.best))} |"
        )
    return "\n".join(lines)


def overhead_table(groups: dict[Key, list[dict[str, Any]]]) -> str:
    """Per-call overhead: call time at K=1 minus the per-step compute from the K sweep."""
    lines = [
        "| model | path | call at K=1 (ms) | compute per step (ms) | per-call overhead (ms) |",
        "|---|---|---|---|---|",
    ]
    models = sorted({m for m, _, _ in groups})
    for model in models:
        hand_step = _step_seconds(groups, model, "hand")
        for path in PATH_ORDER:
            c1 = stat(groups, (model, path, 1), "call_s_median").median
            if c1 is None:
                continue
            own = _step_seconds(groups, model, path)
            steps = _mean_steps_per_call(groups, (model, path, 1))
            # The hand loop's step cost stands in only on the same TensorFlow (not for tf215-*).
            step = own if own is not None else (None if path in ORIGINAL_OF.values() else hand_step)
            over = None if step is None else c1 - steps * step
            lines.append(
                f"| {model} | {path} | {c1 * 1e3:.3f} | {'-' if step is None else f'{step * 1e3:.4f}'}"
                f"{'' if own is not None or step is None else ' (hand)'} | "
                f"{'-' if over is None else f'{over * 1e3:.3f}'} |"
            )
    return "\n".join(lines)


def _mean_steps_per_call(groups: dict[Key, list[dict[str, Any]]], key: Key) -> float:
    values = [r.get("steps_per_call", key[2]) for r in groups.get(key, [])]
    return statistics.median(values) if values else key[2]


def _step_seconds(groups: dict[Key, list[dict[str, Any]]], model: str, path: str) -> float | None:
    ks = sorted(k for m, p, k in groups if m == model and p == path)
    if len(ks) < 2:
        return None
    lo, hi = ks[0], ks[-1]
    s_lo = _mean_steps_per_call(groups, (model, path, lo))
    s_hi = _mean_steps_per_call(groups, (model, path, hi))
    if s_hi <= s_lo:
        return None
    c_lo = stat(groups, (model, path, lo), "call_s_median").median
    c_hi = stat(groups, (model, path, hi), "call_s_median").median
    return (c_hi - c_lo) / (s_hi - s_lo)


EXTRA_COLUMNS = (
    ("ttfs_s", "time to first step (s)", ".3f", 1.0),
    ("ttfs_cpu_s", "time to first step, CPU (s)", ".3f", 1.0),
    ("eval_cpu_s", "evaluate call, CPU (s)", ".3f", 1.0),
    ("predict_first_s", "predict(): first batch (s)", ".3f", 1.0),
    ("predict_first_cpu_s", "predict(): first batch, CPU (s)", ".3f", 1.0),
    ("eval_first", "evaluate, 1st call (s)", ".3f", 1.0),
    ("eval_s", "evaluate, median call (s)", ".3f", 1.0),
    ("ckpt_save_s", "checkpoint save (ms)", ".1f", 1e3),
    ("ckpt_mib_s", "checkpoint MiB/s", ".1f", 1.0),
    ("export_s", "export (s)", ".3f", 1.0),
    ("predict_ex_s", "predict() examples/s", ",.0f", 1.0),
    ("predict_call_s", "predict() call (s)", ".3f", 1.0),
    ("sig_ex_s", "exported signature examples/s", ",.0f", 1.0),
)


def extras_table(groups: dict[Key, list[dict[str, Any]]]) -> str:
    """K-independent figures (measured in the K=1 runs): median (min–max)."""
    lines = []
    for model in sorted({m for m, _, _ in groups}):
        paths = [p for p in PATH_ORDER if (model, p, 1) in groups]
        if not paths:
            continue
        lines += [f"\n**{model}** (median, min–max over runs)\n", "| figure | " + " | ".join(paths) + " |"]
        lines.append("|---" * (len(paths) + 1) + "|")
        for field, title, fmt, scale in EXTRA_COLUMNS:
            cells = []
            for p in paths:
                runs = groups[(model, p, 1)]
                if field == "eval_first":
                    s = Stats((r.get("eval_s") or [None])[0] for r in runs)
                else:
                    s = stat(groups, (model, p, 1), field)
                cells.append(s.cell(fmt, scale))
            lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def target_checks(groups: dict[Key, list[dict[str, Any]]]) -> list[str]:
    """One line per target of the issue: measured ratio (median over runs) and whether it is met."""
    out: list[str] = []

    def check(
        label: str,
        ratio: float | None,
        ok: bool | None,
        rule: str,
        best: float | None = None,
        cpu: float | None = None,
        cpu_label: str = "per CPU-second",
    ) -> None:
        if ok is None and "hand loop" not in label:
            return  # the comparison's other side was not run
        verdict = "not measured" if ok is None else ("MET" if ok else "MISSED")
        extra = "" if best is None else f"; best runs {_fmt_ratio(best)}"
        extra += "" if cpu is None else f"; {cpu_label} {_fmt_ratio(cpu)}"
        shown = "-" if ratio is None else f"{ratio:.3f}x"
        out.append(f"- {label}: {shown} ({rule}{extra}) — **{verdict}**")

    def median(key: Key, field: str) -> float | None:
        return stat(groups, key, field).median

    models = sorted({m for m, _, _ in groups})
    for model in models:
        kmax = max([k for m, p, k in groups if m == model and p == "hand"], default=None)
        target = HAND_TARGETS.get(model) if kmax is not None else None
        lib = stat(groups, (model, "lib-tpu", kmax), "steady_ex_s")
        hand = stat(groups, (model, "hand", kmax), "steady_ex_s")
        r = _ratio(lib.median, hand.median)
        if target is not None:
            cpu = _ratio(median((model, "lib-tpu", kmax), "cpu_ex_s"), median((model, "hand", kmax), "cpu_ex_s"))
            check(
                f"{model} K={kmax} throughput, lib-tpu / hand loop",
                r,
                None if r is None else r >= target,
                f">= {target}",
                _ratio(lib.best, hand.best),
                cpu,
            )
        for lib_path, orig_path in ORIGINAL_OF.items():
            orig_key = (model, orig_path, 1)
            orig = stat(groups, orig_key, "steady_ex_s")
            for k in sorted(k for m, p, k in groups if m == model and p == lib_path):
                key = (model, lib_path, k)
                mine = stat(groups, key, "steady_ex_s")
                kind, bound = throughput_rule(model, lib_path, k)
                if kind == "step_time":
                    r = _ratio(orig.median, mine.median)
                    cpu = _ratio(median(orig_key, "cpu_ex_s"), median(key, "cpu_ex_s"))
                    check(
                        f"{model} K={k} time per step, {lib_path} / {orig_path}",
                        r,
                        None if r is None else r <= bound,
                        f"<= {bound}",
                        _ratio(orig.best, mine.best),
                        cpu,
                    )
                    continue
                r = _ratio(mine.median, orig.median)
                cpu = _ratio(median(key, "cpu_ex_s"), median(orig_key, "cpu_ex_s"))
                check(
                    f"{model} K={k} throughput, {lib_path} / {orig_path}",
                    r,
                    None if r is None else r >= bound,
                    f">= {bound}",
                    _ratio(mine.best, orig.best),
                    cpu,
                )
            if lib_path.endswith("-xla"):
                continue  # start-up and evaluate are the default (uncompiled) paths' targets
            for field, cpu_field, name, bound in (
                ("ttfs_s", "ttfs_cpu_s", "time to first step", 1.0),
                ("predict_first_s", "predict_first_cpu_s", "time to first prediction", 1.0),
                ("eval_s", "eval_cpu_s", "evaluate call", EVAL_CALL),
            ):
                r = _ratio(median((model, lib_path, 1), field), median(orig_key, field))
                cpu = _ratio(median((model, lib_path, 1), cpu_field), median(orig_key, cpu_field))
                check(
                    f"{model} {name}, {lib_path} / {orig_path}",
                    r,
                    None if r is None else r <= bound,
                    f"<= {bound}",
                    cpu=cpu,
                    cpu_label="CPU time",
                )
    return out


def machine_line(results: Sequence[dict[str, Any]]) -> str:
    """Load average seen by the runs, and the TensorFlow versions."""
    loads = [r["loadavg_start"] for r in results if "loadavg_start" in r]
    versions = sorted({f"{r['path']}: TF {r['tf_version']}" for r in results if r.get("tf_version")})
    tf_versions = sorted({v.split(": ")[1] for v in versions})
    if not loads:
        return "no runs"
    return (
        f"{len(results)} runs ({sum(1 for r in results if r.get('ok'))} ok); 1-min load average at run start: "
        f"median {statistics.median(loads):.2f}, max {max(loads):.2f}; {', '.join(tf_versions)}"
    )


def render(results: Sequence[dict[str, Any]]) -> str:
    """The whole report as Markdown."""
    groups = group(results)
    failures = [r for r in results if not r.get("ok")]
    parts = [
        "### Machine",
        machine_line(results),
        "### Training throughput (steady state, after warm-up)",
        throughput_table(groups),
        "### Training work: examples per CPU-second of the process (less sensitive to machine load)",
        throughput_table(groups, "cpu_ex_s"),
        "### Per-call overhead",
        overhead_table(groups),
        "### Start-up, evaluate, checkpoint, export and predict (K=1 runs)",
        extras_table(groups),
        "### Targets",
        "\n".join(target_checks(groups)) or "(nothing to compare)",
    ]
    if failures:
        seen = sorted({f"- {r['path']} {r['model']} K={r['k']}: {r.get('error', '?')[:300]}" for r in failures})
        parts += ["### Failed runs", "\n".join(seen)]
    return "\n\n".join(parts) + "\n"


def render_targets(results: Sequence[dict[str, Any]]) -> str:
    """What `python -m bench --quick` prints: the machine line, the target lines and any failures."""
    groups = group(results)
    lines = [f"Machine: {machine_line(results)}", "", *(target_checks(groups) or ["(nothing to compare)"])]
    failures = sorted(
        {
            f"- FAILED {r['path']} {r['model']} K={r['k']}: {r.get('error', '?')[:300]}"
            for r in results
            if not r.get("ok")
        }
    )
    return "\n".join(lines + failures) + "\n"
