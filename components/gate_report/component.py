"""KFP declaration of the gate report component (the Else branch of the evaluation gate records why)."""


from kfp import dsl
from kfp.dsl import Markdown, Output

from .. import images


def gate_report(metric: str, value: float, threshold: float, passed: bool, report: Output[Markdown]):
    """Writes a Markdown report of the gate's outcome and prints it.

    Args:
        metric: Name of the gate metric.
        value: The metric's value from evaluate.
        threshold: The threshold the value was compared with.
        passed: Whether the value met the threshold.
        report: Output: the Markdown report, saying what to do when the gate failed.
    """
    import os

    from estimator_kfp.components.gate_report.task import render_gate_report

    text = render_gate_report(passed=passed, metric=metric, value=value, threshold=threshold)
    os.makedirs(os.path.dirname(report.path) or ".", exist_ok=True)
    with open(report.path, "w") as handle:
        handle.write(text)
    report.metadata.update({"passed": passed, "metric": metric, "value": value, "threshold": threshold})
    print(text, flush=True)


def build(image: str = images.DEFAULT_IMAGE):
    """The gate report component running in `image`."""
    return dsl.component(base_image=images.check_image(image), install_kfp_package=False)(gate_report)


gate_report_op = build()
