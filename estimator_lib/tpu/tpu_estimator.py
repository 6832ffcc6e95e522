"""`TPUEstimator`: the Estimator with global batch sizes, replicas, eval_metrics, host_call and
iterations_per_loop, all on `tf.distribute` in graph mode (TPU, several GPUs, or virtual CPUs in tests).
"""

from __future__ import annotations

import contextlib
import copy
import functools
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from estimator_lib import _graph, inputs, loops, validation
from estimator_lib.estimator import Estimator
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.mode_plan import ModePlan
from estimator_lib.spec import EstimatorSpec
from estimator_lib.tpu import batching, host_calls
from estimator_lib.tpu.context import TPUContext, host_of, replica_devices
from estimator_lib.tpu.strategy import resolve_strategy
from estimator_lib.tpu.tpu_config import InputPipelineConfig, RunConfig, parse_iterations_per_loop
from estimator_lib.tpu.tpu_spec import TPUEstimatorSpec

v1 = tf.compat.v1
RESERVED_PARAMS = ("batch_size", "context")


def _check_batch_size(name: str, value: Any, required: bool) -> None:
    if value is None:
        if required:
            raise ValueError(f"{name} is required when use_tpu=True; pass the global batch size, e.g. {name}=1024.")
        return
    validation.check_int(name, value, rule="the global batch size")


class TPUEstimator(Estimator):
    """Estimator with TPU support; with use_tpu=False everything runs on CPU/GPU with the sizes unchanged."""

    def __init__(
        self,
        model_fn: Callable | None = None,
        model_dir: str | None = None,
        config: RunConfig | None = None,
        params: dict | None = None,
        use_tpu: bool = True,
        train_batch_size: int | None = None,
        eval_batch_size: int | None = None,
        predict_batch_size: int | None = None,
        batch_axis: Any = None,
        eval_on_tpu: bool = True,
        export_to_tpu: bool = True,
        export_to_cpu: bool = True,
        warm_start_from: Any = None,
        embedding_config_spec: Any = None,
        export_saved_model_api_version: Any = None,
    ):
        """An Estimator that takes global batch sizes and runs each step on every replica of the resolved
        strategy (TPU cores, several GPUs, or virtual CPUs in tests).

        `train`, `evaluate`, `predict` and `export_saved_model` are the `Estimator`'s (same arguments,
        returns and errors); what differs is what `model_fn` and `input_fn` receive: `params['batch_size']`
        (the global size divided by the replica count where docs/tpu.md says so), `params['context']` (a
        `TPUContext`) with `use_tpu=True`, and `TPUEstimatorSpec`'s `eval_metrics` and `host_call`, whose
        tensors are gathered from every replica before they run on the host. `config.tpu_config`'s
        `iterations_per_loop` runs that many steps in one `session.run`.

        Args:
            model_fn: As for `Estimator`; it may return a `TPUEstimatorSpec` or an `EstimatorSpec`.
            model_dir: As for `Estimator`.
            config: An `estimator_lib.tpu.RunConfig`, required because its `tpu_config` decides the
                steps per loop and how input is split across replicas.
            params: As for `Estimator`, without the keys `batch_size` and `context`, which TPUEstimator
                fills in itself.
            use_tpu: True runs on the resolved TPU (or the `train_distribute` strategy) with per-replica
                batch sizes; False runs as a plain Estimator would on one device, sizes unchanged, so the
                same code can be debugged on a CPU.
            train_batch_size: The global training batch size; required with `use_tpu=True`. It must divide
                evenly by the replica count.
            eval_batch_size: The global evaluation batch size; required by `evaluate()` with `use_tpu=True`
                and `eval_on_tpu=True`.
            predict_batch_size: The global prediction batch size; required by `predict()` with
                `use_tpu=True`. The last batch is padded to it and the padded rows are dropped from the
                results.
            batch_axis: Accepted for compatibility and ignored: batches are always split along axis 0.
            eval_on_tpu: False evaluates on one device with `eval_batch_size` unchanged (`model_fn` must then
                return `eval_metric_ops` in an `EstimatorSpec`), e.g. for metrics that cannot run on a TPU.
            export_to_tpu: Also write the `serve, tpu` graph when a TPU was resolved (logged and skipped
                when none was).
            export_to_cpu: Write the CPU serving graph (tag `serve`); it is always written.
            warm_start_from: As for `Estimator`.
            embedding_config_spec: TPU embeddings are not supported; must be None.
            export_saved_model_api_version: Accepted for compatibility and ignored.

        Raises:
            ValueError: `config` is missing or not an `estimator_lib.tpu.RunConfig`; `params` uses a reserved
                key; `use_tpu` is not a bool; a batch size is not a positive int, or `train_batch_size` is
                missing with `use_tpu=True`; `batch_axis` is not a tuple; `embedding_config_spec` is given;
                both exports are turned off; and everything `Estimator.__init__` refuses.
            TypeError: As for `Estimator.__init__`.
        """
        if config is None:
            raise ValueError(
                "TPUEstimator needs a config: pass estimator_lib.tpu.RunConfig(tpu_config=TPUConfig(...))."
            )
        if not isinstance(config, RunConfig):
            raise ValueError(
                f"TPUEstimator config must be an estimator_lib.tpu.RunConfig (with tpu_config); received "
                f"{type(config).__name__}."
            )
        reserved = sorted(set(params or {}) & set(RESERVED_PARAMS))
        if reserved:
            raise ValueError(
                f"params has reserved key(s) {reserved}: TPUEstimator sets params['batch_size'] and "
                "params['context'] itself. Give batch sizes as train_batch_size/eval_batch_size/predict_batch_size."
            )
        validation.check_bool("use_tpu", use_tpu)
        _check_batch_size("train_batch_size", train_batch_size, required=use_tpu)
        _check_batch_size("eval_batch_size", eval_batch_size, required=False)
        _check_batch_size("predict_batch_size", predict_batch_size, required=False)
        if batch_axis is not None and not isinstance(batch_axis, (tuple, list)):
            raise ValueError(f"batch_axis must be a tuple of ints or None; received {batch_axis!r}.")
        if embedding_config_spec is not None:
            raise ValueError("embedding_config_spec (TPU embeddings) is not supported; leave it None.")
        if not export_to_cpu and not export_to_tpu:
            raise ValueError("export_to_cpu and export_to_tpu are both False: nothing would be exported.")
        super().__init__(model_fn=model_fn, model_dir=model_dir, config=config, params=params,
                         warm_start_from=warm_start_from)
        self._use_tpu = use_tpu
        self._batch_sizes = {
            ModeKeys.TRAIN: train_batch_size,
            ModeKeys.EVAL: eval_batch_size,
            ModeKeys.PREDICT: predict_batch_size,
        }
        self._eval_on_tpu = eval_on_tpu
        self._export_to_tpu = export_to_tpu
        self._export_to_cpu = export_to_cpu
        self._steps, self._loop_seconds = parse_iterations_per_loop(config.tpu_config.iterations_per_loop)
        self._resolved = None
        self._predict_mask_key = "is_padding"

    # ---- deployment ---------------------------------------------------------------------------------
    @property
    def use_tpu(self) -> bool:
        return self._use_tpu

    def _deployment(self):
        if self._resolved is None:
            self._resolved = resolve_strategy(self._config, use_tpu=self._use_tpu)
        return self._resolved

    def _mode_strategy(self, mode: str) -> Any:
        if mode == ModeKeys.EVAL and not self._eval_on_tpu:
            return None
        return self._deployment().strategy

    def _plan(self, mode: str) -> ModePlan:
        """The resolved strategy (none for evaluate with eval_on_tpu=False), iterations_per_loop for training,
        and the host side of a TPUEstimatorSpec: eval_metrics and host_call run on the host over the tensors
        gathered from every replica."""
        # experimental_host_call_every_n_steps applied to the TPU loop only; off the TPU the original ran
        # host_call on every step.
        every_n = self._config.tpu_config.experimental_host_call_every_n_steps if self._use_tpu else 1
        steps, seconds = (self._steps, self._loop_seconds) if mode == ModeKeys.TRAIN else (1, None)
        return ModePlan(
            strategy=self._mode_strategy(mode),
            steps_per_run=steps or 1,
            loop_seconds=seconds,
            # On a TPU the original logged the global step read after the run's loop (tpu_estimator.py r2.15:
            # a LoggingTensorHook on `identity(global_step)` behind the loss), at every iterations_per_loop; off
            # the TPU it trained as the Estimator and logged the step before the run.
            log_step_after_run=self._use_tpu,
            host_side=functools.partial(host_calls.HostSide.of, mode=mode, every_n_steps=every_n),
        )

    def _num_replicas(self, mode: str) -> int:
        strategy = self._mode_strategy(mode)
        return 1 if loops.is_default_strategy(strategy) else strategy.num_replicas_in_sync

    def _per_replica(self, mode: str) -> int | None:
        global_size = self._batch_sizes[mode]
        if global_size is None:
            return None
        replicas = self._num_replicas(mode)
        if global_size % replicas:
            name = {ModeKeys.TRAIN: "train_batch_size", ModeKeys.EVAL: "eval_batch_size",
                    ModeKeys.PREDICT: "predict_batch_size"}[mode]
            raise ValueError(
                f"{name}={global_size} must divide evenly by the number of replicas ({replicas}); "
                f"use a multiple of {replicas}, e.g. {name}={(global_size // replicas + 1) * replicas}."
            )
        return global_size // replicas

    def _params_for(self, mode: str, *, for_input_fn: bool, invocation: int = 0) -> dict:
        params = copy.deepcopy(self._params)
        global_size = self._batch_sizes[mode]
        if global_size is None:
            if for_input_fn and self._use_tpu and (mode == ModeKeys.PREDICT or self._eval_on_tpu):
                name = "eval_batch_size" if mode == ModeKeys.EVAL else "predict_batch_size"
                action = "evaluate()" if mode == ModeKeys.EVAL else "predict()"
                fallback = ", or eval_on_tpu=False to evaluate on one device" if mode == ModeKeys.EVAL else ""
                raise ValueError(
                    f"{name} is required for {action} when use_tpu=True: pass TPUEstimator({name}=<global batch "
                    f"size>), which is split across the replicas{fallback}."
                )
            return params
        per_replica = self._per_replica(mode)
        if for_input_fn:
            deployment = self._input_deployment(mode)
            params["batch_size"] = per_replica if deployment == InputPipelineConfig.PER_HOST_V2 else global_size
        else:
            params["batch_size"] = per_replica
        # As the original: a context only when the step runs on the TPU (not with use_tpu=False, nor for
        # evaluate with eval_on_tpu=False); model_fn gets one in train and evaluate.
        on_tpu = self._use_tpu and not (mode == ModeKeys.EVAL and not self._eval_on_tpu)
        if on_tpu and (for_input_fn or mode != ModeKeys.PREDICT):
            params["context"] = TPUContext(
                replica_devices=replica_devices(self._mode_strategy(mode)), mode=mode, global_batch_size=global_size,
                per_replica_batch_size=per_replica, from_input_fn=for_input_fn, invocation_index=invocation,
                num_invocations=self._num_replicas(mode) if for_input_fn and self._per_shard_input(mode) else 1,
            )
        return params

    def _input_deployment(self, mode: str) -> int:
        """PER_SHARD_V1 and PER_HOST_V2 hand input_fn the per-replica size; the others the per-host size."""
        if mode != ModeKeys.TRAIN:
            return InputPipelineConfig.PER_HOST_V1
        setting = self._config.tpu_config.per_host_input_for_training
        if setting in (InputPipelineConfig.PER_SHARD_V1, InputPipelineConfig.PER_HOST_V2):
            return InputPipelineConfig.PER_HOST_V2
        return InputPipelineConfig.PER_HOST_V1

    def _per_shard_input(self, mode: str) -> bool:
        return mode == ModeKeys.TRAIN and (
            self._config.tpu_config.per_host_input_for_training == InputPipelineConfig.PER_SHARD_V1
        )

    def _call_input_fn(self, input_fn: Callable, mode: str) -> Any:
        result = super()._call_input_fn(input_fn, mode)
        replicas = self._num_replicas(mode)
        if replicas == 1 or mode == ModeKeys.PREDICT:  # predict needs a Dataset with replicas, and says so
            return result
        if not isinstance(result, tf.data.Dataset):
            return self._tensors_for_replicas(input_fn, mode, result, replicas)
        if self._input_deployment(mode) == InputPipelineConfig.PER_HOST_V2:
            result = batching.merge_replica_batches(result, replicas)
        return result

    def _tensors_for_replicas(
        self, input_fn: Callable, mode: str, first: Any, replicas: int
    ) -> inputs.PerReplicaInputs:
        """input_fn returned (features, labels) tensors on several replicas: fed as the original's infeed fed
        them. PER_HOST_V1 splits the one call's global batch across the replicas; PER_SHARD_V1 calls input_fn
        once per replica, on that replica's host; PER_HOST_V2 needs a Dataset, as it did there."""
        setting = self._config.tpu_config.per_host_input_for_training
        if mode == ModeKeys.TRAIN and setting == InputPipelineConfig.PER_HOST_V2:
            raise TypeError(
                "With per_host_input_for_training=PER_HOST_V2 and several replicas, input_fn must return a "
                f"tf.data.Dataset (as tf.estimator's TPUEstimator required); received {type(first).__name__}. "
                "Return the dataset, or set per_host_input_for_training=True to split the tensors across replicas."
            )
        if not self._per_shard_input(mode):
            return inputs.PerReplicaInputs(batching.split_for_replicas(_as_element(first), replicas))
        elements = [_as_element(first)]
        devices = replica_devices(self._mode_strategy(mode))
        for replica in range(1, replicas):
            params = self._params_for(mode, for_input_fn=True, invocation=replica)
            with tf.device(host_of(devices[replica])):
                result = inputs.call_input_fn(input_fn, mode=mode, params=params, config=self._config)
            if isinstance(result, tf.data.Dataset):
                raise TypeError(
                    f"input_fn returned tensors for replica 0 but a tf.data.Dataset for replica {replica}; return "
                    "the same kind of input from every call."
                )
            elements.append(_as_element(result))
        return inputs.PerReplicaInputs(elements)

    # ---- spec conversion ----------------------------------------------------------------------------
    def _to_estimator_spec(self, spec: Any, mode: str) -> EstimatorSpec:
        if isinstance(spec, TPUEstimatorSpec):  # its eval_metrics and host_call run on the host (the plan's host_side)
            return spec.as_estimator_spec(include_eval_metrics=False)
        if isinstance(spec, EstimatorSpec):
            if mode == ModeKeys.EVAL and self._eval_on_tpu and self._use_tpu:
                raise ValueError(
                    "model_fn returned an EstimatorSpec in EVAL mode, but eval_on_tpu=True needs a TPUEstimatorSpec "
                    "with eval_metrics=(metric_fn, tensors). Return a TPUEstimatorSpec, or set eval_on_tpu=False."
                )
            return spec
        raise TypeError(
            f"model_fn must return a TPUEstimatorSpec (or an EstimatorSpec); received {type(spec).__name__}: {spec!r}."
        )

    # ---- predict ------------------------------------------------------------------------------------
    def _build_predictions(self, input_fn: Callable):
        mode = ModeKeys.PREDICT
        strategy = self._mode_strategy(mode)
        batch_size = self._batch_sizes[mode]
        result = self._call_input_fn(input_fn, mode)
        replicated = not loops.is_default_strategy(strategy)
        if (replicated or batch_size is not None) and not isinstance(result, tf.data.Dataset):
            raise TypeError(
                "TPUEstimator.predict needs input_fn to return a tf.data.Dataset (it pads the last batch); "
                f"received {type(result).__name__}."
            )
        padded = isinstance(result, tf.data.Dataset) and batch_size is not None
        if padded and replicated:  # padded before the split; on one device, the fetched batch is padded below
            result = batching.pad_final_batch(result, batch_size, mask_key=self._predict_mask_key)
        specs: list = []

        def step_fn(features, labels):
            if padded and not replicated:
                features, labels = batching.pad_batch(features, batch_size, mask_key=self._predict_mask_key)
            raw = self._call_raw_model_fn(features, None, mode, self._config)
            spec = self._to_estimator_spec(raw, mode)
            specs.append(spec)
            if replicated and not isinstance(spec.predictions, dict):
                raise ValueError(
                    "With several replicas, predictions must be a dict of batch-major Tensors; received "
                    f"{spec.predictions!r}."
                )
            outputs = spec.predictions
            if padded:
                if not isinstance(outputs, dict):
                    outputs = {batching.SINGLE_OUTPUT: outputs}
                outputs = {**outputs, batching.MASK_OUTPUT: labels}
            return spec, outputs

        scope = strategy.scope() if replicated else contextlib.nullcontext()
        with scope:
            evaluation = loops.build_eval(input_result=result, step_fn=step_fn, strategy=strategy)
        predictions = loops.concat_across_replicas(evaluation.per_replica_outputs)
        # Estimator.predict makes its session without the strategy: bring the TPU system lifecycle along.
        hooks = list(evaluation.input_hooks) + _graph.tpu_system_hooks(strategy, self._config)
        return predictions, hooks, evaluation.specs[0], batching.drop_padding

    # ---- export -------------------------------------------------------------------------------------
    def _export_tags(self) -> list[list[str]]:
        tags: list[list[str]] = []
        if self._export_to_cpu:
            tags.append([tf.saved_model.SERVING])
        if self._export_to_tpu and self._use_tpu:
            deployment = self._deployment()
            if deployment.is_tpu:
                tags.append([tf.saved_model.SERVING, tf.saved_model.TPU])
            else:
                tf.get_logger().info(
                    "export_to_tpu: no TPU was resolved, so only the CPU serving graph is exported. "
                    "Export on a TPU host to add the TPU-tagged graph."
                )
        if not tags:
            raise ValueError(
                "export_to_cpu=False and no TPU is available for the TPU graph: nothing would be exported. "
                "Set export_to_cpu=True or export on a TPU host."
            )
        return tags


def _as_element(result: Any) -> Any:
    """(features, labels), or features alone, from what input_fn returned (NumPy values become tensors)."""
    features, labels, _ = inputs.features_and_labels(result)
    return features if labels is None else (features, labels)
