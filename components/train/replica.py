"""The entry point of a multi-node training job's worker pools: trains beside the chief, publishes nothing.

In a multi-node CustomJob (pipelines.training_job), worker pool 0 is the chief: it runs the KFP executor
and the train component, which writes the step's `model` output and its executor output. The worker pools
run `python -m estimator_kfp.components.train.replica` with the chief's own arguments
(`--executor_input <the job's executor input> --function_to_execute train`). This module reads the same
inputs, builds the same estimator and trains in lockstep with the chief as a MultiWorkerMirroredStrategy
worker (TF_CONFIG task type `worker`). The engine sends a worker's checkpoints and summaries to a scratch
directory of its own; this process writes no artifact, no metadata and no executor output.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .cluster import task_type, tf_config
from .task import TrainRequest

# The train component's inputs that are TrainRequest fields under the same name.
_SAME_NAME = ("model_ref", "params_json", "input_fn_ref", "train_steps", "train_batch_size", "init_mode", "use_tpu",
              "save_checkpoints_steps", "save_checkpoints_secs", "log_step_count_steps", "tf_random_seed",
              "iterations_per_loop")
# Inputs the worker reads another way (data and artifacts), and the chief's lineage-only metadata inputs.
HANDLED_INPUTS = ("train_data", "train_dataset", "init_model", "model")
LINEAGE_INPUTS = ("machine_type", "accelerator_type", "tpu_topology")
# How long a worker waits for the chief to put the starting checkpoint (init_model, resume) in place.
CHIEF_CHECKPOINT_WAIT_SECS = 1800


def _artifact(inputs: Mapping[str, Any], name: str) -> Any:
    """The named single artifact (its .path maps gs:// to the /gcs FUSE mount, as in the KFP executor), or None."""
    from kfp import dsl

    entries = (inputs.get(name) or {}).get("artifacts") or []
    return dsl.Artifact(name=name, uri=entries[0]["uri"]) if entries else None


def _typed(name: str, value: Any) -> Any:
    """A parameter value as the TrainRequest field wants it (JSON numbers may arrive as 300.0)."""
    default = {field.name: field.default for field in dataclasses.fields(TrainRequest)}[name]
    if isinstance(default, bool) or not isinstance(default, int) or isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def worker_request(executor_input: Mapping[str, Any]) -> TrainRequest:
    """The TrainRequest the chief's train component builds from the same executor input."""
    from .._data import data_path

    inputs = executor_input.get("inputs") or {}
    values = inputs.get("parameterValues") or {}
    artifacts = inputs.get("artifacts") or {}
    outputs = (executor_input.get("outputs") or {}).get("artifacts") or {}
    output_model = _artifact(outputs, "model")
    if output_model is None or "model_ref" not in values:
        raise ValueError(
            "the executor input has no `model` output or no `model_ref` input: this entry point runs the worker "
            "pools of the train component's CustomJob and takes that job's `--executor_input`; received inputs "
            f"{sorted(values)} and output artifacts {sorted(outputs)}."
        )
    fields = {name: _typed(name, values[name]) for name in _SAME_NAME if name in values}
    fields["train_data"] = data_path("train_data", values.get("train_data", ""), _artifact(artifacts, "train_dataset"))
    init_model = _artifact(artifacts, "init_model")
    fields["init_model_dir"] = init_model.path if init_model is not None else ""
    return TrainRequest(output_model_dir=output_model.path, **fields)


def check_worker_task(environ: Mapping[str, str] | None = None) -> None:
    """Refuses to run anywhere but in a worker pool of a multi-node job (the chief runs the KFP executor)."""
    config = tf_config(environ)
    kind = task_type(config)
    if kind != "worker":
        raise ValueError(
            f"estimator_kfp.components.train.replica runs the worker pools of a multi-node training job, where "
            f"TF_CONFIG task.type is 'worker'; received task type {kind!r} (TF_CONFIG cluster "
            f"{sorted(config.get('cluster') or {})}). Worker pool 0, the chief, runs the train component itself."
        )


def train_as_worker(request: TrainRequest, checkpoint_dir: str = "") -> dict[str, Any]:
    """Trains beside the chief until the step the chief stops at; returns where this worker got to.

    checkpoint_dir is the job's AIP_CHECKPOINT_DIR when set: the chief trains there and every task restores
    the newest checkpoint from it when it starts; else the chief trains straight into its `model` output.
    """
    from estimator_lib.distribute import multi_worker
    from estimator_lib.mode_keys import ModeKeys

    from .. import _io
    from .._estimator import (
        build_estimator,
        checkpoint_global_step,
        configure_logging,
        make_input_fn,
        require_checkpoint,
        step_params,
    )
    from .._model_ref import parse_params, resolve_model
    from .cluster import collective_strategy

    check_worker_task()
    options = request.options()
    functions = resolve_model(request.model_ref, input_fn_ref=request.input_fn_ref)
    params = step_params(parse_params(request.params_json), batch_size=request.train_batch_size,
                         data_path=request.train_data, options=options)
    configure_logging()
    model_dir = _io.local_path(checkpoint_dir or request.output_model_dir, "output_model_dir")
    start_step, warm_start_from = 0, None
    if request.init_model_dir:
        init_dir = _io.local_path(request.init_model_dir, "init_model_dir")
        if request.init_mode == "warm_start":
            warm_start_from = init_dir
        else:  # the chief copies the starting checkpoint into model_dir; every task must restore the same one
            start_step = checkpoint_global_step(require_checkpoint(init_dir, "init_model_dir"))
            wait_for_checkpoint(model_dir, start_step)
    strategy = collective_strategy()
    estimator = build_estimator(functions, model_dir, params, options, warm_start_from=warm_start_from,
                                train_distribute=strategy)
    target_step = start_step + request.train_steps
    print(f"[train worker] model_ref={request.model_ref} restores from {model_dir}; trains to step {target_step}",
          flush=True)
    estimator.train(make_input_fn(functions, ModeKeys.TRAIN), max_steps=target_step)
    scratch = multi_worker.scratch_dir(estimator.config)
    from estimator_lib.checkpoints import latest_checkpoint

    own = latest_checkpoint(scratch)
    return {"task": "worker", "target_step": target_step, "scratch_dir": scratch,
            "global_step": checkpoint_global_step(own) if own else None}


def wait_for_checkpoint(model_dir: str, step: int, *, timeout_secs: float = CHIEF_CHECKPOINT_WAIT_SECS) -> str:
    """Waits until model_dir holds a complete checkpoint at `step` or later (the chief puts it there)."""
    from estimator_lib.checkpoints import latest_checkpoint

    from .._estimator import checkpoint_global_step

    deadline = time.monotonic() + timeout_secs
    while True:
        latest = latest_checkpoint(model_dir) if os.path.isdir(model_dir) or "://" in model_dir else None
        if latest is not None and checkpoint_global_step(latest) >= step:
            return latest
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"the chief did not put a checkpoint at step >= {step} into {model_dir!r} within {timeout_secs:.0f} s; "
                f"this worker cannot start from the same weights. Check the chief's (worker pool 0) log."
            )
        time.sleep(2.0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m estimator_kfp.components.train.replica",
        description="Train as a worker of a multi-node training job (the chief runs the train component).",
    )
    parser.add_argument("--executor_input", required=True, help="the job's KFP executor input (JSON)")
    parser.add_argument("--function_to_execute", default="train", choices=("train",),
                        help="accepted for the chief's argument list; only the train component has workers")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point of the worker pools: trains, then prints where this worker got to as JSON."""
    from .vertex_dirs import VertexDirs

    args = _parser().parse_args(argv)
    # One log handler, installed before TensorFlow loads (as the chief's KFP executor does): TensorFlow adds
    # its own only when the root logger has none, and two would print every line twice.
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        executor_input = json.loads(args.executor_input)
    except json.JSONDecodeError as error:
        raise ValueError(f"--executor_input must be the job's executor input as JSON ({error}).") from None
    check_worker_task()
    dirs = VertexDirs.from_env()
    summary = train_as_worker(worker_request(executor_input), checkpoint_dir=dirs.checkpoint_dir)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
