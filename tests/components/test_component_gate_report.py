"""The gate report, without KFP."""

import pytest
from estimator_kfp.components.gate_report.task import render_gate_report


def test_gate_report_says_what_to_do():
    failed = render_gate_report(passed=False, metric="accuracy", value=0.5, threshold=0.9)
    assert "gate failed" in failed and "| accuracy | 0.5 | 0.9 |" in failed and "lower the threshold" in failed
    assert "gate passed" in render_gate_report(passed=True, metric="loss", value=0.1, threshold=0.0)
    with pytest.raises(TypeError, match=r"value must be a number; received value='high'"):
        render_gate_report(passed=True, metric="accuracy", value="high", threshold=0.5)
