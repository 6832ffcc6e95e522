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

from estimator_lib import (
    _graph,
    checkpoints,
    disk_space,
    loops,
    metrics,
    mode_plan,
    preemption,
    state_updates,
    training_hooks,
    validation,
    warm_start,
)
from estimator_lib.distribute import graph_mode, multi_worker
from estimator_lib.export import saved_model_writer
from estimator_lib.fn_args import call_with_declared_args, declared_args
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.mode_plan import ModePlan
from estimator_lib.run_config import RunConfig
from estimator_lib.spec import EstimatorSpec, check_hooks, check_metric_names

v1 = tf.compat.v1
MODEL_FN_ARGS = ("features", "labels", "mode", "params", "config")


def _check_positive_int(name: str, value: Any) -> None:
    validation.check_int(name, value, allow_none=True)


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
        """Checks `model_fn` and the configuration up front, so a typo fails here rather than mid-training.

        Args:
            model_fn: Builds the model for one mode. It may declare any of `features`, `labels`, `mode`,
                `params` and `config` (only those it declares are passed) and returns an `EstimatorSpec`.
                It is called once per graph: once for each `train`, `evaluate`, `predict` or export call.
            model_dir: Where checkpoints, summaries and evaluation results live. Falls back to
                `config.model_dir`, then to a new temporary directory (logged as a warning, since nothing
                written there survives the machine).
            config: A `RunConfig`; `RunConfig()` when None. Its cluster fields come from `TF_CONFIG`.
            params: Hyperparameters handed to `model_fn` (and to an `input_fn` that declares `params`).
                Deep-copied, so later changes to the caller's dict do not leak into training.
            warm_start_from: A checkpoint path, SavedModel directory or `WarmStartSettings` whose variables
                initialise a model that has no checkpoint of its own yet.

        Raises:
            TypeError: `model_fn` is not callable, or `params` is not a dict.
            ValueError: `model_fn` has no `features` argument or declares one the Estimator cannot supply;
                `params` are given but `model_fn` takes none; `config` is not a `RunConfig`; `model_dir`
                and `config.model_dir` name different directories; `warm_start_from` is neither a path nor
                a `WarmStartSettings`.
        """
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
            raise validation.WrongTypeError(
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
        # What in model_fn or input_fn refused the iterations_per_loop loop, once a train() call found out.
        self._loop_refused_by: str | None = None

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
        """The newest checkpoint in `model_dir` that can be read.

        Returns:
            Its path prefix (`model_dir/model.ckpt-N`), or None before the first checkpoint. A truncated or
            corrupt newest checkpoint (a crash during a save) is skipped for the one before it.
        """
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
        """The names of the variables saved in the latest checkpoint.

        Returns:
            Every name in the checkpoint, global step and optimizer slots included.

        Raises:
            ValueError: `model_dir` holds no checkpoint yet.
        """
        return [name for name, _ in tf.train.list_variables(self._require_checkpoint())]

    def get_variable_value(self, name: str | list[str]) -> Any:
        """Reads variables from the latest checkpoint, without building a graph.

        Args:
            name: A variable name as `get_variable_names()` lists it, or a list of names.

        Returns:
            A NumPy array for one name; a list of arrays, in the same order, for a list of names.

        Raises:
            ValueError: There is no checkpoint yet, or a name is not in it (the message names it).
        """
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
        """The directory `evaluate(name=name)` writes its TensorBoard events to.

        Args:
            name: The evaluation's name; several names keep several evaluations (validation, test) apart.

        Returns:
            `model_dir/eval` without a name, `model_dir/eval_<name>` with one.
        """
        return os.path.join(self._model_dir, "eval" if not name else f"eval_{name}")

    # ---- extension points for TPUEstimator ----------------------------------------------------------
    def _plan(self, mode: str) -> ModePlan:
        """Where and how this call's steps run: RunConfig's strategy for the mode, one step per run, nothing
        sent to the host. TPUEstimator's plan adds its loop, replicas and host side."""
        distribute = {ModeKeys.TRAIN: self._config.train_distribute, ModeKeys.EVAL: self._config.eval_distribute}
        return ModePlan(strategy=graph_mode.prepare(distribute.get(mode)))

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
        """Trains the model, resuming from the newest readable checkpoint in `model_dir`.

        Training stops at `steps` more steps, at `max_steps` in all, when `input_fn`'s data runs out, or when
        a hook asks it to. A checkpoint is written on the `RunConfig` cadence and always at the end, so the
        next call (or a restarted process) resumes where this one stopped.

        Args:
            input_fn: Returns a `tf.data.Dataset` of `(features, labels)` (or a `(features, labels)` tuple).
                It may declare `params`, `config`, `mode` and `input_context`. With `train_distribute` its
                batches are global and are split across the replicas.
            hooks: `SessionRunHook`s run with the training session, after the built-in ones.
            steps: How many steps to add to the checkpoint's step. Relative, so calling
                `train(steps=100)` twice trains 200 steps.
            max_steps: The global step to stop at. Absolute, so a repeated call (a retried job) is a no-op
                once it is reached. Give `steps` or `max_steps`, not both.
            saving_listeners: `CheckpointSaverListener`s called around every checkpoint save, e.g. to copy
                checkpoints elsewhere.

        Returns:
            This estimator, so calls can be chained (`estimator.train(...).evaluate(...)`).

        Raises:
            ValueError: Both `steps` and `max_steps` are given, either is not a positive int, or this task
                (from `TF_CONFIG`) is an evaluator or parameter server, which do not train.
            TypeError: `hooks` or `saving_listeners` hold objects of the wrong type.
            NanLossDuringTrainingError: The loss became NaN; the step that produced it is not checkpointed.
            TrainingPreempted: The process got SIGTERM. The step (or `iterations_per_loop` loop) in flight
                finished and was checkpointed first. A `SystemExit` with code 143, so an uncaught one ends
                the process with the code a retrying orchestrator reads as "run me again".
        """
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
        """Trains on this call's plan. When model_fn or input_fn makes something that cannot live inside the
        iterations_per_loop loop, the graph is built again with one step per session.run and a warning; later
        calls start there, since the same model_fn would refuse the loop again."""
        plan = self._plan(ModeKeys.TRAIN)
        if self._loop_refused_by is None:
            try:
                return self._train_on(plan, input_fn, user_hooks, stop_at, listeners, warm_start_now=warm_start_now)
            except loops.OneStepPerRunNeeded as needed:
                self._loop_refused_by = needed.construct
                _logger().warning(
                    "iterations_per_loop=%s: training runs one step per session.run, because %s cannot be built "
                    "inside the iterations_per_loop loop.", plan.describe_loop(), needed.construct,
                )
        return self._train_on(plan.one_step_per_run(), input_fn, user_hooks, stop_at, listeners,
                              warm_start_now=warm_start_now)

    def _train_on(self, plan: ModePlan, input_fn, user_hooks, stop_at, listeners, *, warm_start_now: bool) -> None:
        config = self._config
        strategy = plan.strategy
        with _graph.fresh_graph(config.tf_random_seed) as graph:
            scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
            with scope, graph_mode.mean_gradients(strategy):
                global_step = v1.train.get_or_create_global_step(graph)
                input_result = self._call_input_fn(input_fn, ModeKeys.TRAIN)
                steps_per_run, loop_hooks = mode_plan.loop_steps(plan)
                host_sides: list = []

                def step_fn(features, labels):
                    with _graph.xla_scope(config):
                        raw = self._call_raw_model_fn(features, labels, ModeKeys.TRAIN, config)
                    spec = self._to_estimator_spec(raw, ModeKeys.TRAIN)
                    host = plan.host_side(raw)
                    host_sides.append(host)
                    return spec, None if host is None else host.outputs

                computation = loops.build_train(
                    input_result=input_result,
                    step_fn=step_fn,
                    strategy=strategy,
                    steps_per_run=steps_per_run,
                    stop_at=stop_at,
                    global_step=global_step,
                )
            spec = computation.specs[0]
            loss = computation.loss
            v1.summary.scalar("loss", loss)
            if warm_start_now and self._warm_start is not None:
                warm_start.apply(self._warm_start)
            scaffold = _graph.finalize_scaffold(spec.scaffold, config)
            step_after_run = _graph.post_step_global_step_read(global_step, computation.train_op)
            host = host_sides[0] if host_sides else None
            assembled = training_hooks.assemble(
                config=config,
                is_chief=config.is_chief,
                model_dir=self._model_dir,
                tensors=training_hooks.TrainTensors(loss, global_step, step_after_run),
                scaffold=scaffold,
                input_hooks=computation.input_hooks,
                extra_hooks=loop_hooks + ([] if host is None else host.train_hooks(computation.gathered)),
                spec_hooks=spec.training_hooks,
                spec_chief_hooks=spec.training_chief_hooks,
                user_hooks=user_hooks,  # train() appends its preemption hook to the user's
                listeners=listeners,
                stop_at=stop_at,
                steps_per_run=steps_per_run,
                mirrors_chief=not config.is_chief and multi_worker.is_multi_worker(config.train_distribute),
                log_step_after_run=plan.log_step_after_run,
            )
            # The disk-full check wraps the session, so the final save at its close is covered too.
            with disk_space.named_when_full(self._model_dir, v1.get_default_graph()), _graph.training_session(
                scaffold=scaffold,
                config=config,
                model_dir=self._model_dir,
                hooks=assembled.hooks,
                strategy=strategy,
            ) as session:
                while not session.should_stop():
                    session.run(computation.train_op)  # the NaN hook fetches the loss with it
            _logger().info("Loss for final step: %s.", assembled.nan_check.last_loss)

    # ---- evaluate -----------------------------------------------------------------------------------
    def evaluate(
        self,
        input_fn: Callable,
        steps: int | None = None,
        hooks: Iterable | None = None,
        checkpoint_path: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """Computes the `eval_metric_ops` (and the mean loss) of one checkpoint over `input_fn`'s data.

        The results also go to TensorBoard events in `eval_dir(name)`, with the checkpoint's path, which is
        what `BestExporter` and the early-stopping hooks read later.

        Args:
            input_fn: Returns the evaluation data, as for `train`. Without `steps` it must end (no
                `repeat()`), or evaluation never finishes.
            steps: Evaluate at most this many batches; None runs until the data ends.
            hooks: `SessionRunHook`s run with the evaluation session.
            checkpoint_path: A checkpoint prefix or a directory holding checkpoints; None takes the newest
                in `model_dir` (and a newer one if that is garbage-collected while evaluation starts). With
                no checkpoint at all, the model is evaluated with its initial values and a warning is logged.
            name: Keeps this evaluation apart from others (see `eval_dir`).

        Returns:
            A dict of metric name to value, plus `loss` (the mean loss over the batches) and `global_step`
            (the evaluated checkpoint's step).

        Raises:
            ValueError: `steps` is not a positive int, `name` is empty or contains '/', `checkpoint_path`
                is not a readable checkpoint, or a metric name is reserved (`loss`, `global_step`).
            TypeError: `hooks` hold objects of the wrong type.
        """
        _check_positive_int("steps", steps)
        user_hooks = list(check_hooks(hooks, "hooks"))
        if name is not None and (not isinstance(name, str) or "/" in name or not name):
            raise ValueError(f"name must be a non-empty string without '/'; received name={name!r}.")
        newest_in = self._model_dir if checkpoint_path is None else None  # retry on a newer one if it is collected
        checkpoint_path = self._resolve_checkpoint(checkpoint_path, "evaluate")
        config = self._config
        plan = self._plan(ModeKeys.EVAL)
        strategy = plan.strategy
        with _graph.fresh_graph(config.tf_random_seed):
            scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
            with scope:
                global_step = v1.train.get_or_create_global_step()
                input_result = self._call_input_fn(input_fn, ModeKeys.EVAL)
                host_sides: list = []

                def step_fn(features, labels):
                    raw = self._call_raw_model_fn(features, labels, ModeKeys.EVAL, config)
                    spec = self._to_estimator_spec(raw, ModeKeys.EVAL)
                    host = plan.host_side(raw)
                    host_sides.append(host)
                    check_metric_names(spec.eval_metric_ops, "eval_metric_ops")
                    pairs = metrics.as_pairs(spec.eval_metric_ops)
                    metrics.updates_wait_for(pairs, (features, labels))
                    pairs["loss"] = v1.metrics.mean(spec.loss)
                    updates = [update for _, update in pairs.values()]
                    return spec, (pairs, None if host is None else host.outputs, tf.group(*updates))

                evaluation = loops.build_eval(input_result=input_result, step_fn=step_fn, strategy=strategy)
            spec = evaluation.specs[0]
            first_pairs = evaluation.per_replica_outputs[0][0]
            gathered = [outputs for _, outputs, _ in evaluation.per_replica_outputs]
            update_ops = [update for _, _, update in evaluation.per_replica_outputs]
            # v1 metric values under a strategy are already aggregated across replicas (sync-on-read sums).
            values = {name_: pair[0] for name_, pair in first_pairs.items()}
            host = host_sides[0]
            host_pairs, host_hooks = ({}, []) if host is None else host.eval_results(gathered)
            check_metric_names(host_pairs, "eval_metrics")
            for metric_name, (value, update) in host_pairs.items():
                values[metric_name] = value
                update_ops.append(update)
            update_op = tf.group(*update_ops)
            values["global_step"] = global_step.read_value()
            scaffold = _graph.finalize_restoring_scaffold(spec.scaffold, config)
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
        """Runs `model_fn`'s predictions over `input_fn`'s data, lazily.

        A generator: nothing runs until it is iterated, and a session stays open while it is, so stop
        iterating (or close it) to free the session.

        Args:
            input_fn: Returns the features (a `Dataset` of features or of `(features, labels)`; labels are
                ignored). It must end, or the generator never does.
            predict_keys: The prediction keys to return (a str or a list); None returns them all.
            hooks: `SessionRunHook`s run with the prediction session.
            checkpoint_path: As for `evaluate`: a checkpoint prefix or directory, or None for the newest.
            yield_single_examples: True yields one example at a time (the batch dimension split off);
                False yields whole batches, which is faster for large outputs.

        Yields:
            One prediction per example (a dict when `predictions` is a dict, else an array), or one batch.

        Raises:
            ValueError: `predict_keys` names keys the predictions do not have, or is given while the
                predictions are not a dict; `checkpoint_path` is not a readable checkpoint; with
                `yield_single_examples`, a prediction has no batch dimension or the predictions disagree on
                their batch size.
            TypeError: `hooks` hold objects of the wrong type.
        """
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
            scaffold = _graph.finalize_restoring_scaffold(spec.scaffold, config)
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
        """Exports a checkpoint as a SavedModel for serving.

        The SavedModel is written to `export_dir_base/temp-<timestamp>` and renamed to
        `export_dir_base/<timestamp>` once complete, so a reader (or a crash) never sees half an export.

        Args:
            export_dir_base: The directory that holds one timestamped subdirectory per export.
            serving_input_receiver_fn: Takes no arguments and returns a `ServingInputReceiver` (or
                `TensorServingInputReceiver`): the placeholders a request feeds and the features built from
                them. `model_fn` is called with them in PREDICT mode.
            assets_extra: Extra files to ship with the model: {destination path inside `assets.extra`:
                source path}.
            as_text: Also write `saved_model.pbtxt`, a readable copy for debugging.
            checkpoint_path: The checkpoint to export; None takes the newest in `model_dir`.

        Returns:
            The export's path, as bytes (as tf.estimator returned it).

        Raises:
            ValueError: There is no checkpoint to export, `checkpoint_path` is not a readable checkpoint,
                `export_dir_base` is not a path, `serving_input_receiver_fn` is not callable, or an
                `assets_extra` entry leaves `assets.extra/` or names a missing file.
        """
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
                    f"Cannot export: no checkpoint in model_dir {self._model_dir!r}. Train first or pass "
                    "checkpoint_path."
                )
        else:
            checkpoint_path = self._resolve_checkpoint(checkpoint_path, "export")
        export_dir_base = os.fsdecode(os.fspath(export_dir_base))
        return saved_model_writer.export(
            model_fn=self._call_model_fn,
            config=self._config,
            tags=self._export_tags(),
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
        """`export_saved_model` under its TF 1.x name, for code written against it.

        Args:
            export_dir_base, serving_input_receiver_fn, assets_extra, as_text, checkpoint_path: As for
                `export_saved_model`.
            strip_default_attrs: Accepted for compatibility and ignored: default-valued attributes are
                always stripped, which lets TensorFlow binaries older than the exporting one load the model.

        Returns:
            The export's path, as bytes.

        Raises:
            ValueError: As for `export_saved_model`.
        """
        return self.export_saved_model(
            export_dir_base, serving_input_receiver_fn, assets_extra, as_text, checkpoint_path
        )


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
