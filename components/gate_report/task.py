"""Gate report: a short Markdown record of whether the evaluation metric passed the pipeline's threshold."""

from __future__ import annotations

import math


def render_gate_report(*, passed: bool, metric: str, value: float, threshold: float) -> str:
    """The Markdown text shown in the pipeline UI for the gate's outcome."""
    if not isinstance(metric, str) or not metric:
        raise ValueError(f"metric must name the gated metric, e.g. 'accuracy'; received metric={metric!r}.")
    for name, number in (("value", value), ("threshold", threshold)):
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise TypeError(f"{name} must be a number; received {name}={number!r}.")
    verdict = "passed" if passed else "failed"
    action = (
        "The model was exported and batch predictions were written."
        if passed
        else "The model was not exported. Train longer, tune params, or lower the threshold, then re-run."
    )
    note = "" if math.isfinite(value) else "\n\nThe metric is not a finite number; check the training loss."
    return (
        f"# Evaluation gate {verdict}\n\n"
        f"| metric | value | threshold |\n|---|---|---|\n| {metric} | {value:.6g} | {threshold:.6g} |\n\n"
        f"{action}{note}\n"
    )
