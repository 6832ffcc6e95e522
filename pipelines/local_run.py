"""Running the training pipeline on kfp.local (the main job) and summarising what it produced."""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from typing import Any

DEFAULT_PIPELINE_ROOT = "./local_pipeline_root"


@dataclasses.dataclass(frozen=True)
class LocalRunSummary:
    """Where a local run wrote everything: task -> output name -> {'uri', 'metadata'}, plus parameters."""

    run_dir: str
    artifacts: dict[str, dict[str, dict[str, Any]]]
    parameters: dict[str, dict[str, Any]]

    def artifact(self, task: str, name: str) -> dict[str, Any] | None:
        return self.artifacts.get(task, {}).get(name)

    @property
    def gate_passed(self) -> bool:
        return "export" in self.artifacts

    def prediction_sample(self, rows: int = 3) -> list[dict[str, Any]]:
        predictions = self.artifact("predict", "predictions")
        if predictions is None:
            return []
        path = os.path.join(predictions["uri"], "predictions.jsonl")
        if not os.path.exists(path):
            return []
        sample = []
        with open(path) as handle:
            for line in handle:
                sample.append(json.loads(line))
                if len(sample) >= rows:
                    break
        return sample


def run_local(
    pipeline_root: str = DEFAULT_PIPELINE_ROOT, *, target_pipeline=None, **parameter_values: Any
) -> LocalRunSummary:
    """Runs the pipeline on kfp.local's subprocess runner (this Python, no Docker) and summarises the run."""
    from kfp import local

    from .training_pipeline import build_training_pipeline

    if not isinstance(pipeline_root, str) or not pipeline_root or pipeline_root.startswith("gs://"):
        raise ValueError(
            f"pipeline_root must be a local directory for a local run; received pipeline_root={pipeline_root!r}. "
            f"Use `estimator-pipelines submit` to run on Vertex AI with a gs:// root."
        )
    pipeline_root = os.path.abspath(pipeline_root)
    os.makedirs(pipeline_root, exist_ok=True)
    # Steps inherit the environment: keep TensorFlow's C++ start-up notices out of the streamed logs.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    pipeline = target_pipeline or build_training_pipeline("local")
    before = set(os.listdir(pipeline_root))
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=pipeline_root, raise_on_error=True)
    with warnings.catch_warnings():
        # The local runner ignores display names and images by design; say nothing about it per task.
        warnings.filterwarnings("ignore", message=".*have no effect in the current local runner.*")
        warnings.filterwarnings("ignore", message=".*non-Python base image.*")
        pipeline(**parameter_values)
    new_runs = sorted(set(os.listdir(pipeline_root)) - before)
    if not new_runs:
        raise RuntimeError(f"The local run wrote nothing under {pipeline_root}; check the log above.")
    return summarize_run(os.path.join(pipeline_root, new_runs[-1]))


def summarize_run(run_dir: str) -> LocalRunSummary:
    """Reads every task's executor_output.json under a kfp.local run directory."""
    artifacts: dict[str, dict[str, dict[str, Any]]] = {}
    parameters: dict[str, dict[str, Any]] = {}
    for task in sorted(os.listdir(run_dir)):
        output_file = os.path.join(run_dir, task, "executor_output.json")
        if not os.path.isfile(output_file):
            continue
        with open(output_file) as handle:
            output = json.load(handle)
        for name, value in output.get("artifacts", {}).items():
            for artifact in value.get("artifacts", [])[:1]:
                artifacts.setdefault(task, {})[name] = {
                    "uri": artifact.get("uri", ""),
                    "metadata": artifact.get("metadata", {}),
                }
        if output.get("parameterValues"):
            parameters[task] = dict(output["parameterValues"])
    return LocalRunSummary(run_dir=run_dir, artifacts=artifacts, parameters=parameters)


def format_summary(summary: LocalRunSummary) -> str:
    """A human-readable report: artifact locations, metrics, the gate, the SavedModel and a prediction sample."""
    lines = [f"Run directory: {summary.run_dir}", "", "Artifacts:"]
    for task, outputs in summary.artifacts.items():
        for name, artifact in outputs.items():
            lines.append(f"  {task}.{name}: {artifact['uri']}")
    metrics = (summary.artifact("evaluate", "metrics") or {}).get("metadata", {})
    lines += ["", "Final metrics:"] + [f"  {name} = {value:.6g}" for name, value in sorted(metrics.items())]
    matrix = (summary.artifact("evaluate", "classification_metrics") or {}).get("metadata", {}).get("confusionMatrix")
    if matrix:
        names = [spec.get("displayName") for spec in matrix.get("annotationSpecs", [])]
        lines.append(f"  confusion matrix (rows: true {names}, columns: predicted):")
        lines += [f"    {[int(v) for v in row['row']]}" for row in matrix.get("rows", [])]
    gate = summary.parameters.get("evaluate", {}).get("gate_value")
    lines += ["", f"Gate: {'passed' if summary.gate_passed else 'failed'} (gate value {gate})"]
    exported = summary.artifact("export", "saved_model")
    if exported:
        signatures = sorted(exported["metadata"].get("signatures", {}))
        lines.append(f"SavedModel: {exported['uri']} (signatures {signatures})")
    sample = summary.prediction_sample()
    if sample:
        lines.append("Prediction sample:")
        lines += [f"  {json.dumps(row)}" for row in sample]
    return "\n".join(lines)
