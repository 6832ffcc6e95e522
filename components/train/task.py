"""Train: runs Estimator.train into a checkpoint directory (the `model` artifact of the train component).

Also the container entry point for training as a Vertex custom job on TPU nodes:
`python -m estimator_kfp.components.train.task --config gs://.../train_config.json --output-model-dir gs://.../model`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from .. import _io
from .._estimator import (
    EstimatorOptions,
    build_estimator,
    check_int,
    checkpoint_global_step,
    configure_logging,
    make_input_fn,
    require_checkpoint,
    step_params,
)
from .._model_ref import parse_params, resolve_model

INIT_MODES = ("resume", "warm_start")
# Periodic checkpoints bound what a hard kill (SIGKILL after the grace period, a lost VM) can lose; a
# SIGTERM saves anyway (estimator_lib.preemption). 120 s keeps that loss to minutes on preemptible capacity.
DEFAULT_SAVE_CHECKPOINTS_SECS = 120
# The writer lease of the output (estimator_lib.storage.lease): renewed every 20 s; a retry after a hard kill
# on another machine waits up to 90 s for the dead attempt's lease to expire; a live second trainer is refused.
LEASE_TTL_SECS = 60
LEASE_WAIT_SECS = 90


@dataclasses.dataclass(frozen=True)
class TrainRequest:
    """Everything one training step needs; built from component inputs, CLI flags or a JSON config."""

    model_ref: str
    output_model_dir: str
    params_json: str = "{}"
    input_fn_ref: str = ""
    train_steps: int = 100
    train_batch_size: int = 0
    train_data: str = ""
    init_model_dir: str = ""
    init_mode: str = "resume"
    use_tpu: bool = False
    save_checkpoints_steps: int = 0
    save_checkpoints_secs: int = DEFAULT_SAVE_CHECKPOINTS_SECS
    log_step_count_steps: int = 50
    tf_random_seed: int = -1
    iterations_per_loop: int = 0
    tpu_master: str = "local"

    def __post_init__(self) -> None:
        check_int(self.train_steps, "train_steps", minimum=1)
        if not isinstance(self.output_model_dir, str) or not self.output_model_dir:
            raise ValueError(
                f"output_model_dir must be a directory path or gs:// URI to write checkpoints into; "
                f"received output_model_dir={self.output_model_dir!r}."
            )
        if self.init_mode not in INIT_MODES:
            raise ValueError(
                f"init_mode must be one of {INIT_MODES} ('resume' continues the given checkpoint's training, "
                f"'warm_start' starts a new run from its weights); received init_mode={self.init_mode!r}."
            )
        self.options()  # validates the estimator options too, so a planner step fails before any TPU starts

    def options(self) -> EstimatorOptions:
        return EstimatorOptions(
            use_tpu=self.use_tpu,
            train_batch_size=self.train_batch_size,
            save_checkpoints_steps=self.save_checkpoints_steps,
            save_checkpoints_secs=self.save_checkpoints_secs,
            log_step_count_steps=self.log_step_count_steps,
            tf_random_seed=self.tf_random_seed,
            iterations_per_loop=self.iterations_per_loop,
            tpu_master=self.tpu_master,
        )


def run_train(request: TrainRequest) -> dict[str, Any]:
    """Trains `train_steps` steps beyond the starting checkpoint; returns a summary for artifact metadata.

    The target is an absolute global step, so a retried step resumes its own partial checkpoints and stops
    at the same step instead of training further.
    """
    import tensorflow as tf

    options = request.options()  # validates before anything is imported or written
    functions = resolve_model(request.model_ref, input_fn_ref=request.input_fn_ref)
    params = step_params(
        parse_params(request.params_json), batch_size=request.train_batch_size, data_path=request.train_data,
        options=options,
    )
    configure_logging()
    model_dir = _io.local_path(request.output_model_dir, "output_model_dir")
    start_step = 0
    warm_start_from = None
    if request.init_model_dir:
        init_dir = _io.local_path(request.init_model_dir, "init_model_dir")
        init_checkpoint = require_checkpoint(init_dir, "init_model_dir")
        if request.init_mode == "warm_start":
            warm_start_from = init_dir
        else:
            start_step = checkpoint_global_step(init_checkpoint)
            from estimator_lib.storage.seed import seed_model_dir

            seed_model_dir(init_dir, model_dir)  # whole or not at all; a retry keeps a complete earlier copy
    tf.io.gfile.makedirs(model_dir)
    if "://" not in model_dir:  # this step is the one writer of its output: clear a killed save's staging
        from estimator_lib.storage.leftovers import remove_checkpoint_temps

        remove_checkpoint_temps(model_dir)
    from .cluster import collective_strategy  # several training processes: train one model together

    estimator = build_estimator(functions, model_dir, params, options, warm_start_from=warm_start_from,
                                train_distribute=collective_strategy())
    target_step = start_step + request.train_steps
    print(f"[train] model_ref={request.model_ref} model_dir={model_dir} from step {start_step} to {target_step}",
          flush=True)
    from estimator_lib.mode_keys import ModeKeys

    _train_or_fail_loudly(estimator, make_input_fn(functions, ModeKeys.TRAIN), target_step, model_dir)
    checkpoint = require_checkpoint(model_dir, "output_model_dir")
    return {
        "framework": "tensorflow",
        "framework_version": tf.__version__,
        "model_ref": request.model_ref,
        "params": params,
        "global_step": checkpoint_global_step(checkpoint),
        "checkpoint": os.path.basename(checkpoint),
        "init_model_dir": request.init_model_dir,
        "init_mode": request.init_mode if request.init_model_dir else "",
    }


def _train_or_fail_loudly(estimator: Any, input_fn: Any, target_step: int, model_dir: str) -> None:
    """Trains holding model_dir's writer lease; user code calling sys.exit() becomes an error (a clean exit 0
    would pass an incomplete `model` on)."""
    from estimator_lib.preemption import TrainingPreempted
    from estimator_lib.storage.lease import ModelDirLease

    try:
        with ModelDirLease(model_dir, ttl_secs=LEASE_TTL_SECS, wait_secs=LEASE_WAIT_SECS):  # one writer
            estimator.train(input_fn, max_steps=target_step)
    except TrainingPreempted:
        raise  # exit 143: the orchestrator retries and the next attempt resumes
    except SystemExit as error:
        raise RuntimeError(
            f"User code called sys.exit({error.code!r}) during training, before step {target_step} was reached "
            f"in {model_dir}; the step fails instead of passing on an incomplete model. Remove the sys.exit call "
            "from model_fn/input_fn."
        ) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m estimator_kfp.components.train.task",
        description="Train an estimator model_fn into a checkpoint directory.",
        epilog="Example: python -m estimator_kfp.components.train.task "
        "--model-ref estimator_kfp.example_models.classifier --params-json '{\"hidden_units\": [16]}' "
        "--train-steps 300 --output-model-dir /tmp/model",
    )
    parser.add_argument("--config", default="",
                        help="JSON file (or gs:// URI) with TrainRequest fields; flags override it")
    parser.add_argument("--model-ref", help="'package.module' or 'package.module:model_fn'")
    parser.add_argument("--output-model-dir", help="checkpoint directory (local path or gs:// URI)")
    parser.add_argument("--params-json")
    parser.add_argument("--input-fn-ref")
    parser.add_argument("--train-steps", type=int)
    parser.add_argument("--train-batch-size", type=int)
    parser.add_argument("--train-data")
    parser.add_argument("--init-model-dir")
    parser.add_argument("--init-mode", choices=INIT_MODES)
    parser.add_argument("--use-tpu", action=argparse.BooleanOptionalAction, default=None,
                        help="TPUEstimator on a TPU (--no-use-tpu runs a TPU job's config on CPU/GPU)")
    parser.add_argument("--save-checkpoints-steps", type=int)
    parser.add_argument("--save-checkpoints-secs", type=int,
                        help="seconds between checkpoints when --save-checkpoints-steps is 0 (default 120)")
    parser.add_argument("--log-step-count-steps", type=int)
    parser.add_argument("--tf-random-seed", type=int)
    parser.add_argument("--iterations-per-loop", type=int)
    parser.add_argument("--tpu-master",
                        help="TPU to use with --use-tpu: 'local' (this TPU VM), a name or grpc:// address")
    return parser


def request_from_args(argv: Sequence[str] | None) -> TrainRequest:
    """Builds a TrainRequest from `--config` (if any) overridden by explicit flags."""
    args = _parser().parse_args(argv)
    fields: dict[str, Any] = {}
    if args.config:
        loaded = _io.read_json(_io.local_path(args.config, "--config"))
        if not isinstance(loaded, dict):
            raise ValueError(f"--config {args.config!r} must hold a JSON object of TrainRequest fields.")
        known = {field.name for field in dataclasses.fields(TrainRequest)}
        unknown = sorted(set(loaded) - known)
        if unknown:
            raise ValueError(f"--config {args.config!r} has unknown fields {unknown}; known fields: {sorted(known)}.")
        fields.update(loaded)
    for name, value in vars(args).items():
        if name != "config" and value is not None:
            fields[name] = value
    if not fields.get("output_model_dir") and os.environ.get("AIP_MODEL_DIR"):
        fields["output_model_dir"] = os.environ["AIP_MODEL_DIR"]  # a Vertex CustomJob with base_output_directory
    missing = [name for name in ("model_ref", "output_model_dir") if not fields.get(name)]
    if missing:
        raise ValueError(f"Missing {', '.join('--' + m.replace('_', '-') for m in missing)} (or put them in --config).")
    return TrainRequest(**fields)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: trains, then prints the summary as JSON."""
    from .vertex_dirs import train_in_job

    summary = train_in_job(request_from_args(argv))
    print(json.dumps(summary, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
