"""`Estimator`: trains, evaluates, predicts with and exports a `model_fn`, one graph per call.

Policy lives here (when to checkpoint, log, stop); the mechanics of running steps are in `loops`,
and every Session/Scaffold detail in `_graph`.
"""

from __future__ import annotations

import contextlib
import copy
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from estimator_lib import _graph, checkpoints, disk_space, loops, metrics, preemption, state_updates, warm_start
from estimator_lib.distribute import graph_mode
from estimator_lib.export import saved_model_writer
from estimator_lib.fn_args import call_with_declared_args, declared_args
from estimator_lib.hooks import NanLossHook, StepLogHook
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.run_config import RunConfig
from estimator_lib.spec import EstimatorSpec, check_hooks, check_metric_names

v1 = tf.compat.v1
MODEL_FN_ARGS = ("features", "labels", "mode", "params", "config")


def _check_positive_int(name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer or None; received {name}={value!r}.")


def _check_listeners(listeners: Any) -> list:
    listeners = list(listeners or [])
    for listener in listeners:
        if not isinstance(listener, v1.train.CheckpointSaverListener):
            raise TypeError(
                "saving_listeners must be CheckpointSaverListener instances; received "
                f"{listener!r} of type {type(listener).__name__}."
            )
    return listeners


def _check_trainable_spec(raw: Any) -> None:
    """A spec built for another mode has no train_op; say so instead of failing later on a None op.

    (tf.estimator used whatever spec came back, so a TRAIN spec in evaluate() still works here too.)"""
    spec_mode, train_op = getattr(raw, "mode", ModeKeys.TRAIN), getattr(raw, "train_op", "unknown")
    if spec_mode != ModeKeys.TRAIN and train_op is None:
        raise ValueError(
            f"model_fn was called with mode={ModeKeys.TRAIN!r} but returned a spec built for mode={spec_mode!r}, "
            "which has no train_op. Build the spec with the mode model_fn receives: "
            "EstimatorSpec(mode, loss=..., train_op=...) when mode == ModeKeys.TRAIN."
        )


def _logger():
    return tf.get_logger()


class Estimator:
    """Runs a `model_fn` for training, evaluation, prediction and export, as `tf.estimator.Estimator` did."""

    def __init__(
        self,
        model_fn: Callable,
        model_dir: str | os.PathLike | None = None,
        config: RunConfig | None = None,
        params: dict | None = None,
        warm_start_from: Any = None,
    ):
        if not callable(model_fn):
            raise TypeError(f"model_fn must be callable; received {model_fn!r} of type {type(model_fn).__name__}.")
        names, takes_kwargs = declared_args(model_fn)
        if "features" not in names and not takes_kwargs:
            raise ValueError(
                f"model_fn {getattr(model_fn, '__name__', model_fn)!r} must take a 'features' argument; "
                f"it declares {sorted(names)}."
            )
        unknown = sorted(names - set(MODEL_FN_ARGS))
        if unknown:
            raise ValueError(
                f"model_fn declares argument(s) {unknown} that the Estimator cannot supply; it may take only "
                f"{list(MODEL_FN_ARGS)}."
            )
        if params is not None and not isinstance(params, dict):
            raise TypeError(f"params must be a dict or None; received {type(params).__name__}: {params!r}.")
        if params and "params" not in names and not takes_kwargs:
            raise ValueError(
                f"params {sorted(params)} were given but model_fn {getattr(model_fn, '__name__', model_fn)!r} "
                "has no 'params' argument; add it to model_fn or drop params."
            )
        if config is None:
            config = RunConfig()
        elif not isinstance(config, RunConfig):
            raise ValueError(
                f"config must be an estimator_lib.RunConfig; received {type(config).__name__}: {config!r}."
            )
        if model_dir is not None:
            model_dir = os.fspath(model_dir)
        if model_dir is not None and config.model_dir is not None and config.model_dir != model_dir:
            raise ValueError(
                f"model_dir={model_dir!r} differs from config.model_dir={config.model_dir!r}; give one of them, "
                "or the same path in both."
            )
        model_dir = model_dir or config.model_dir  # '' means "not given", as in the original
        if not model_dir:
            model_dir = tempfile.mkdtemp(prefix="estimator_lib_")
            _logger().warning("Using temporary folder as model directory: %s", model_dir)
        if config.model_dir != model_dir:
            config = config.replace(model_dir=model_dir)
        self._model_fn = model_fn
        self._model_fn_names = names
        self._model_fn_takes_kwargs = takes_kwargs
        self._config = config
        self._model_dir = model_dir
        self._params = copy.deepcopy(params or {})
        self._warm_start = warm_start.as_settings(warm_start_from)

    # ---- properties ---------------------------------------------------------------------------------
    @property
    def model_dir(self) -> str:
        return self._model_dir

    @property
    def config(self) -> RunConfig:
        return self._config  # RunConfig has no setters; change it with replace()

    @property
    def params(self) -> dict:
        return copy.deepcopy(self._params)

    @property
    def model_fn(self) -> Callable:
        """model_fn bound to this estimator's params and config: (features, labels, mode, config)."""

        def bound(features, labels, mode, config=None):
            return self._call_model_fn(features, labels, mode, config or self._config)

        return bound

    # ---- checkpoints --------------------------------------------------------------------------------
    def latest_checkpoint(self) -> str | None:
        return checkpoints.latest_checkpoint(self._model_dir)

    def _require_checkpoint(self) -> str:
        latest = self.latest_checkpoint()
        if latest is None:
            raise ValueError(
                f"No checkpoint in model_dir {self._model_dir!r} yet: call train() first, or point model_dir at a "
                "trained model."
            )
        return latest

    def get_variable_names(self) -> list[str]:
        return [name for name, _ in tf.train.list_variables(self._require_checkpoint())]

    def get_variable_value(self, name: str | list[str]) -> Any:
        reader = tf.train.load_checkpoint(self._require_checkpoint())
        names = [name] if isinstance(name, str) else list(name)
        for item in names:
            if not reader.has_tensor(item):
                raise ValueError(
                    f"Variable {item!r} is not in checkpoint {self.latest_checkpoint()!r}; "
                    "see get_variable_names() for what it holds."
                )
        values = [reader.get_tensor(item) for item in names]
        return values[0] if isinstance(name, str) else values

    def eval_dir(self, name: str | None = None) -> str:
        return os.path.join(self._model_dir, "eval" if not name else f"eval_{name}")

    # ---- extension points for TPUEstimator ----------------------------------------------------------
    def _strategy(self, mode: str) -> Any:
        if mode == ModeKeys.TRAIN:
            return graph_mode.prepare(self._config.train_distribute)
        if mode == ModeKeys.EVAL:
            return graph_mode.prepare(self._config.eval_distribute)
        return None

    def _steps_per_run(self) -> int:
        return 1

    def _params_for(self, mode: str, *, for_input_fn: bool) -> dict:
        return copy.deepcopy(self._params)

    def _to_estimator_spec(self, spec: Any, mode: str) -> EstimatorSpec:
        as_spec = getattr(spec, "as_estimator_spec", None)
        if as_spec is not None:
            spec = as_spec()
        if not isinstance(spec, EstimatorSpec):
            raise TypeError(
                f"model_fn must return an EstimatorSpec; received {type(spec).__name__}: {spec!r}."
            )
        return spec

    def _host_side(self, raw_spec: Any, mode: str) -> Any:
        """What model_fn's spec sends from each replica's step to the host (`.outputs`), and what the host
        builds from it (`.train_hooks(gathered)`, `.eval_results(per_replica_outputs)`): TPUEstimator's
        host_call and eval_metrics (tpu.host_calls.HostSide). The Estimator's specs send nothing: None."""
        return None

    def _export_tags(self) -> list[list[str]]:
        return [[tf.saved_model.SERVING]]

    # ---- calling user code --------------------------------------------------------------------------
    def _call_input_fn(self, input_fn: Callable, mode: str) -> Any:
        from estimator_lib.inputs import call_input_fn

        return call_input_fn(input_fn, mode=mode, params=self._params_for(mode, for_input_fn=True), config=self._config)

    def _call_raw_model_fn(self, features: Any, labels: Any, mode: str, config: RunConfig) -> Any:
        if labels is not None and "labels" not in self._model_fn_names and not self._model_fn_takes_kwargs:
            raise ValueError(
                "input_fn returned labels but model_fn has no 'labels' argument; add `labels` to model_fn "
                "or return features only."
            )
        available = {
            "features": features,
            "labels": labels,
            "mode": mode,
            "params": self._params_for(mode, for_input_fn=False),
            "config": config,
        }
        if mode != ModeKeys.TRAIN:
            return call_with_declared_args(self._model_fn, available, role="model_fn")
        # The one place model_fn is called, so Keras 3 state updates are kept on every strategy and at every K.
        window = state_updates.OpWindow()
        raw = call_with_declared_args(self._model_fn, available, role="model_fn")
        _check_trainable_spec(raw)
        return state_updates.with_state_updates(raw, window)

    def _call_model_fn(self, features: Any, labels: Any, mode: str, config: RunConfig) -> EstimatorSpec:
        return self._to_estimator_spec(self._call_raw_model_fn(features, labels, mode, config), mode)

    # ---- train --------------------------------------------------------------------------------------
    def train(
        self,
        input_fn: Callable,
        hooks: Iterable | None = None,
        steps: int | None = None,
        max_steps: int | None = None,
        saving_listeners: Iterable | None = None,
    ) -> Estimator:
        """Trains until `steps` more steps, `max_steps` in all, the end of input, or a hook says stop."""
        if self._config.task_type in ("evaluator", "ps"):
            raise ValueError(
                f"train() was called on task type {self._config.task_type!r} (from TF_CONFIG), which does not train. "
                "Use estimator_lib.train_and_evaluate, which runs the right work for each task type."
            )
        if steps is not None and max_steps is not None:
            raise ValueError(
                f"Give steps or max_steps, not both; received steps={steps!r}, max_steps={max_steps!r}. "
                "steps adds to the checkpoint's step, max_steps is absolute."
            )
        _check_positive_int("steps", steps)
        _check_positive_int("max_steps", max_steps)
        user_hooks = list(check_hooks(hooks, "hooks"))
        listeners = _check_listeners(saving_listeners)
        start_checkpoint = self.latest_checkpoint()
        start_step = checkpoints.global_step_of(start_checkpoint)
        if max_steps is not None and start_step >= max_steps:
            _logger().info("Skipping training: the checkpoint is at step %d >= max_steps=%d.", start_step, max_steps)
            return self
        stop_at = max_steps if max_steps is not None else (start_step + steps if steps is not None else None)
        with preemption.sigterm_notice() as notice:  # SIGTERM: finish the step, checkpoint, then exit 143
            preempt_hook = preemption.PreemptionHook(notice, self._config)
            self._train(input_fn, user_hooks + [preempt_hook], stop_at, listeners,
                        warm_start_now=start_checkpoint is None)
        if preempt_hook.stopped:
            saved_step = checkpoints.global_step_of(self.latest_checkpoint())
            if stop_at is None or saved_step < stop_at:
                raise preemption.preempted(self._model_dir, saved_step)
        return self

    def _train(self, input_fn, user_hooks, stop_at, listeners, *, warm_start_now: bool) -> None:
        config = self._config
        strategy = self._strategy(ModeKeys.TRAIN)
        with _graph.fresh_graph(config.tf_random_seed) as graph:
            scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
            with scope, graph_mode.mean_gradients(strategy):
                global_step = v1.train.get_or_create_global_step(graph)
                input_result = self._call_input_fn(input_fn, ModeKeys.TRAIN)
                raw_specs: list = []

                def step_fn(features, labels):
                    with _graph.xla_scope(config):
                        raw = self._call_raw_model_fn(features, labels, ModeKeys.TRAIN, config)
                    raw_specs.append(raw)
                    return self._to_estimator_spec(raw, ModeKeys.TRAIN), self._train_step_outputs(raw)

                computation = loops.build_train(
                    input_result=input_result,
                    step_fn=step_fn,
                    strategy=strategy,
                    steps_per_run=self._steps_per_run(),
                    stop_at=stop_at,
                    global_step=global_step,
                )
            spec = computation.specs[0]
            loss = computation.loss
            v1.summary.scalar("loss", loss)
            if warm_start_now and self._warm_start is not None:
                warm_start.apply(self._warm_start)
            scaffold = _graph.finalize_scaffold(spec.scaffold, config)
            hooks = list(computation.input_hooks) + self._train_extra_hooks(raw_specs, computation.gathered)
            step_read = _graph.post_step_global_step_read(global_step, computation.train_op)
            # Detected first of all hooks, so no saver of ours checkpoints a NaN step; raised after every other
            # hook's after_run, so the user's hooks still see that step (as in the original).
            nan_check = _NanCheck(NanLossHook(loss, global_step))
            if config.log_step_count_steps:
                summary_dir = self._model_dir if config.is_chief else None
                steps_per_run = self._steps_per_run()
                hooks.append(
                    StepLogHook(
                        loss,
                        self._step_to_log(step_read),
                        config.log_step_count_steps,
                        summary_dir,
                        steps_per_run=steps_per_run if isinstance(steps_per_run, int) else 1,
                    )
                )
            if stop_at is not None:
                hooks.append(v1.train.StopAtStepHook(last_step=stop_at))
            hooks += list(spec.training_hooks) + user_hooks
            chief_hooks = list(spec.training_chief_hooks)
            if config.is_chief:
                chief_hooks += self._chief_hooks(
                    scaffold,
                    listeners,
                    user_hooks + list(spec.training_hooks) + list(spec.training_chief_hooks),
                    nan_check=nan_check,
                )
            # MonitoredTrainingSession runs chief-only hooks before the others.
            (chief_hooks if config.is_chief else hooks).insert(0, nan_check.detector)
            hooks.append(nan_check.raiser)
            # The disk-full check wraps the session, so the final save at its close is covered too.
            with disk_space.named_when_full(self._model_dir, v1.get_default_graph()), _graph.training_session(
                scaffold=scaffold,
                config=config,
                model_dir=self._model_dir,
                hooks=hooks,
                chief_hooks=chief_hooks,
                strategy=strategy,
            ) as session:
                while not session.should_stop():
                    session.run(computation.train_op)  # the NaN hook fetches the loss with it
            _logger().info("Loss for final step: %s.", nan_check.last_loss)

    def _step_to_log(self, step_after_run: tf.Tensor) -> tf.Tensor:
        """The step in the progress line: the original Estimator logged the global step as read before the
        step ran (the first line says step = 0), so one less than the step after a one-step run."""
        steps_per_run = self._steps_per_run()
        if isinstance(steps_per_run, int) and steps_per_run == 1:
            return step_after_run - 1
        return step_after_run

    def _train_step_outputs(self, raw_spec: Any) -> Any:
        """Tensors each replica hands to the host after a training step (TPU host_call uses it)."""
        host = self._host_side(raw_spec, ModeKeys.TRAIN)
        return None if host is None else host.outputs

    def _train_extra_hooks(self, raw_specs: list, gathered: Any) -> list:
        host = self._host_side(raw_specs[0], ModeKeys.TRAIN) if raw_specs else None
        return [] if host is None else host.train_hooks(gathered)

    def _chief_hooks(self, scaffold, listeners: list, other_hooks: list, nan_check: _NanCheck | None = None) -> list:
        config = self._config
        chief_hooks: list = []
        existing_saver_hooks = [h for h in other_hooks if isinstance(h, v1.train.CheckpointSaverHook)]
        if existing_saver_hooks:
            if listeners:
                existing_saver_hooks[0]._listeners.extend(listeners)  # noqa: SLF001 - attach to the user's saver
        elif config.save_checkpoints_secs or config.save_checkpoints_steps:
            chief_hooks.append(
                _SaverSkippingNanSteps(
                    nan_check,
                    self._model_dir,
                    save_secs=None if config.save_checkpoints_steps else config.save_checkpoints_secs,
                    save_steps=config.save_checkpoints_steps,
                    scaffold=scaffold,
                    listeners=listeners,
                    save_graph_def=config.checkpoint_save_graph_def,
                )
            )
        else:
            chief_hooks.append(_FinalCheckpointHook(self._model_dir, scaffold, listeners))
        if config.save_summary_steps:
            chief_hooks.append(
                v1.train.SummarySaverHook(
                    save_steps=config.save_summary_steps, output_dir=self._model_dir, scaffold=scaffold
                )
            )
        return chief_hooks

    # ---- evaluate -----------------------------------------------------------------------------------
    def evaluate(
        self,
        input_fn: Callable,
        steps: int | None = None,
        hooks: Iterable | None = None,
        checkpoint_path: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """Evaluates the newest (or given) checkpoint; returns metrics plus 'loss' and 'global_step'."""
        _check_positive_int("steps", steps)
        user_hooks = list(check_hooks(hooks, "hooks"))
        if name is not None and (not isinstance(name, str) or "/" in name or not name):
            raise ValueError(f"name must be a non-empty string without '/'; received name={name!r}.")
        newest_in = self._model_dir if checkpoint_path is None else None  # retry on a newer one if it is collected
        checkpoint_path = self._resolve_checkpoint(checkpoint_path, "evaluate")
        config = self._config
        strategy = self._strategy(ModeKeys.EVAL)
        with _graph.fresh_graph(config.tf_random_seed):
            scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
            with scope:
                global_step = v1.train.get_or_create_global_step()
                input_result = self._call_input_fn(input_fn, ModeKeys.EVAL)
                raw_specs: list = []

                def step_fn(features, labels):
                    raw = self._call_raw_model_fn(features, labels, ModeKeys.EVAL, config)
                    raw_specs.append(raw)
                    spec = self._to_estimator_spec(raw, ModeKeys.EVAL)
                    check_metric_names(spec.eval_metric_ops, "eval_metric_ops")
                    pairs = metrics.as_pairs(spec.eval_metric_ops)
                    metrics.updates_wait_for(pairs, (features, labels))
                    pairs["loss"] = v1.metrics.mean(spec.loss)
                    updates = [update for _, update in pairs.values()]
                    host = self._host_side(raw, ModeKeys.EVAL)
                    return spec, (pairs, None if host is None else host.outputs, tf.group(*updates))

                evaluation = loops.build_eval(input_result=input_result, step_fn=step_fn, strategy=strategy)
            spec = evaluation.specs[0]
            first_pairs = evaluation.per_replica_outputs[0][0]
            gathered = [outputs for _, outputs, _ in evaluation.per_replica_outputs]
            update_ops = [update for _, _, update in evaluation.per_replica_outputs]
            # v1 metric values under a strategy are already aggregated across replicas (sync-on-read sums).
            values = {name_: pair[0] for name_, pair in first_pairs.items()}
            host = self._host_side(raw_specs[0], ModeKeys.EVAL)
            host_pairs, host_hooks = ({}, []) if host is None else host.eval_results(gathered)
            check_metric_names(host_pairs, "eval_metrics")
            for metric_name, (value, update) in host_pairs.items():
                values[metric_name] = value
                update_ops.append(update)
            update_op = tf.group(*update_ops)
            values["global_step"] = global_step.read_value()
            scaffold = _graph.finalize_scaffold(spec.scaffold, config)
            final = v1.train.FinalOpsHook(values)
            run_hooks = list(evaluation.input_hooks) + list(spec.evaluation_hooks) + host_hooks + user_hooks + [final]
            done = 0
            with _graph.restoring_session(
                scaffold=scaffold, config=config, checkpoint_path=checkpoint_path, hooks=run_hooks, strategy=strategy,
                newest_in=newest_in,
            ) as session:
                while not session.should_stop():
                    session.run(update_op)
                    done += 1
                    if steps is not None and done >= steps:
                        break
        results = {key: tf.nest.map_structure(_as_python, value) for key, value in final.final_ops_values.items()}
        _logger().info("Evaluation after %d batches at step %s: %s", done, results.get("global_step"), results)
        self._write_eval_summary(results, name, checkpoint_path)
        return results

    def _write_eval_summary(self, results: dict, name: str | None, checkpoint_path: str | None) -> None:
        eval_dir = self.eval_dir(name)
        tf.io.gfile.makedirs(eval_dir)
        step = int(results.get("global_step", 0))
        with tf.Graph().as_default():
            # A unique suffix: FileWriter names files by the second, so two evaluations within one second
            # would otherwise write to the same file and the second would erase the first.
            writer = v1.summary.FileWriter(eval_dir, filename_suffix=f".{os.getpid()}.{time.time_ns()}")
            writer.add_summary(metrics.eval_summary({k: v for k, v in results.items() if k != "global_step"}), step)
            if checkpoint_path:
                writer.add_summary(metrics.checkpoint_path_summary(checkpoint_path), step)
            writer.close()

    def _resolve_checkpoint(self, checkpoint_path: str | None, action: str) -> str | None:
        if checkpoint_path is not None:
            if tf.io.gfile.isdir(checkpoint_path):
                found = checkpoints.latest_checkpoint(checkpoint_path)
                if found is None:
                    raise ValueError(f"checkpoint_path={checkpoint_path!r} is a directory without a checkpoint.")
                return found
            if not tf.io.gfile.exists(checkpoint_path + ".index"):
                raise ValueError(
                    f"checkpoint_path={checkpoint_path!r} is not a checkpoint (no {checkpoint_path}.index); pass a "
                    "checkpoint prefix such as model_dir/model.ckpt-100, or None for the newest."
                )
            from estimator_lib.storage.checkpoint_scan import checkpoint_problem

            problem = checkpoint_problem(checkpoint_path, read_tensors=False)
            if problem is not None:
                raise ValueError(
                    f"checkpoint_path={checkpoint_path!r} is not a readable checkpoint ({problem}). Pass a checkpoint "
                    "prefix written by a Saver (model_dir/model.ckpt-N with its .index and .data files), or None."
                )
            return checkpoint_path
        latest = self.latest_checkpoint()
        if latest is None:
            _logger().warning(
                "No trained model in model_dir %s: running %s with freshly initialised variables.",
                self._model_dir,
                action,
            )
        return latest

    # ---- predict ------------------------------------------------------------------------------------
    def predict(
        self,
        input_fn: Callable,
        predict_keys: str | list[str] | None = None,
        hooks: Iterable | None = None,
        checkpoint_path: str | None = None,
        yield_single_examples: bool = True,
    ) -> Iterator[Any]:
        """Yields predictions one example (or one batch) at a time, until input_fn's data runs out."""
        user_hooks = list(check_hooks(hooks, "hooks"))
        if isinstance(predict_keys, str):
            predict_keys = [predict_keys]
        newest_in = self._model_dir if checkpoint_path is None else None  # retry on a newer one if it is collected
        checkpoint_path = self._resolve_checkpoint(checkpoint_path, "predict")
        config = self._config
        with _graph.fresh_graph(config.tf_random_seed):
            v1.train.get_or_create_global_step()
            predictions, input_hooks, spec, post = self._build_predictions(input_fn)
            _select_keys(spec.predictions, predict_keys)  # validates the keys before any work
            scaffold = _graph.finalize_scaffold(spec.scaffold, config)
            run_hooks = list(input_hooks) + list(spec.prediction_hooks) + user_hooks
            with _graph.restoring_session(
                scaffold=scaffold, config=config, checkpoint_path=checkpoint_path, hooks=run_hooks, newest_in=newest_in
            ) as session:
                while not session.should_stop():
                    batch = _select_keys(post(session.run(predictions)), predict_keys)
                    if not yield_single_examples:
                        yield batch
                        continue
                    yield from _unbatch(batch)

    def _build_predictions(self, input_fn: Callable):
        from estimator_lib.inputs import features_and_labels

        features, _, input_hooks = features_and_labels(self._call_input_fn(input_fn, ModeKeys.PREDICT))
        spec = self._call_model_fn(features, None, ModeKeys.PREDICT, self._config)
        return spec.predictions, input_hooks, spec, (lambda batch: batch)

    # ---- export -------------------------------------------------------------------------------------
    def export_saved_model(
        self,
        export_dir_base: str,
        serving_input_receiver_fn: Callable,
        assets_extra: dict | None = None,
        as_text: bool = False,
        checkpoint_path: str | None = None,
    ) -> bytes:
        """Writes a SavedModel under export_dir_base/<timestamp>; the directory appears only when complete."""
        if not export_dir_base or not isinstance(export_dir_base, (str, bytes, os.PathLike)):
            raise ValueError(f"export_dir_base must be a directory path; received {export_dir_base!r}.")
        if not callable(serving_input_receiver_fn):
            raise ValueError(
                "serving_input_receiver_fn must be a function returning a ServingInputReceiver; received "
                f"{serving_input_receiver_fn!r}."
            )
        if checkpoint_path is None:
            checkpoint_path = self.latest_checkpoint()
            if checkpoint_path is None:
                raise ValueError(
                    f"Cannot export: no checkpoint in model_dir {self._model_dir!r}. "
                    "Train first or pass checkpoint_path."
                )
        else:
            checkpoint_path = self._resolve_checkpoint(checkpoint_path, "export")
        export_dir_base = os.fsdecode(os.fspath(export_dir_base))
        return saved_model_writer.export(
            estimator=self,
            export_dir_base=export_dir_base,
            serving_input_receiver_fn=serving_input_receiver_fn,
            assets_extra=assets_extra,
            as_text=as_text,
            checkpoint_path=checkpoint_path,
        )

    def export_savedmodel(
        self,
        export_dir_base: str,
        serving_input_receiver_fn: Callable,
        assets_extra: dict | None = None,
        as_text: bool = False,
        checkpoint_path: str | None = None,
        strip_default_attrs: bool = True,
    ) -> bytes:
        """The TF1 name of export_saved_model; default attributes are always stripped."""
        return self.export_saved_model(
            export_dir_base, serving_input_receiver_fn, assets_extra, as_text, checkpoint_path
        )


class _NanCheck:
    """A NaN loss is detected by `detector` (the first hook) and raised by `raiser` (the last one)."""

    def __init__(self, nan_hook: NanLossHook):
        self._nan_hook = nan_hook
        self.error: Exception | None = None
        self.detector = _NanDetector(self)
        self.raiser = _NanRaiser(self)

    @property
    def last_loss(self) -> Any:
        return self._nan_hook.last_loss


class _NanDetector(v1.train.SessionRunHook):
    def __init__(self, check: _NanCheck):
        self._check = check

    def begin(self):
        self._check._nan_hook.begin()  # noqa: SLF001

    def before_run(self, run_context):
        return self._check._nan_hook.before_run(run_context)  # noqa: SLF001

    def after_run(self, run_context, run_values):
        try:
            self._check._nan_hook.after_run(run_context, run_values)  # noqa: SLF001
        except v1.train.NanLossDuringTrainingError as error:
            self._check.error = error


class _NanRaiser(v1.train.SessionRunHook):
    def __init__(self, check: _NanCheck):
        self._check = check

    def after_run(self, run_context, run_values):
        if self._check.error is not None:
            raise self._check.error


class _SaverSkippingNanSteps(v1.train.CheckpointSaverHook):
    """The Estimator's saver: it never checkpoints a step whose loss was NaN (the original could)."""

    def __init__(self, nan_check: _NanCheck | None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._nan_check = nan_check

    def after_run(self, run_context, run_values):
        if self._nan_check is not None and self._nan_check.error is not None:
            return
        super().after_run(run_context, run_values)


class _FinalCheckpointHook(v1.train.SessionRunHook):
    """With periodic checkpoints disabled, still save once at the end (as the original did)."""

    def __init__(self, model_dir: str, scaffold, listeners: list):
        self._hook = v1.train.CheckpointSaverHook(model_dir, save_steps=10**12, scaffold=scaffold, listeners=listeners)

    def begin(self):
        self._hook.begin()

    def after_create_session(self, session, coord):
        self._hook.after_create_session(session, coord)

    def end(self, session):
        self._hook.end(session)


def _as_python(value: Any) -> Any:
    array = np.asarray(value)
    if array.shape == () and np.issubdtype(array.dtype, np.number):
        return array.item() if array.dtype.kind in "iu" else np.float32(array).item()
    return value


def _select_keys(predictions: Any, predict_keys: list[str] | None) -> Any:
    if predict_keys is None:
        return predictions
    if not isinstance(predictions, dict):
        raise ValueError("predict_keys works only when model_fn returns predictions as a dict.")
    missing = [key for key in predict_keys if key not in predictions]
    if missing:
        raise ValueError(f"predict_keys {missing} are not in the predictions {sorted(predictions)}.")
    return {key: predictions[key] for key in predict_keys}


def _unbatch(batch: Any) -> Iterator[Any]:
    if not isinstance(batch, dict):
        if not np.ndim(batch):
            raise ValueError(
                f"Cannot yield single examples: the prediction is a scalar ({batch!r}), with no batch dimension. "
                "Return one value per example, or call predict(yield_single_examples=False)."
            )
        yield from batch
        return
    sizes = {key: np.shape(value)[0] if np.ndim(value) else None for key, value in batch.items()}
    distinct = set(sizes.values())
    if None in distinct or len(distinct) != 1:
        raise ValueError(
            f"Cannot yield single examples: predictions have different or missing batch sizes {sizes}. "
            "Give every prediction a leading batch dimension, or call predict(yield_single_examples=False)."
        )
    for index in range(distinct.pop()):
        yield {key: value[index] for key, value in batch.items()}
