"""`RunConfig`: where a model lives, how often it checkpoints and logs, and its place in a cluster.

The cluster fields come from the `TF_CONFIG` environment variable, as with the original Estimator:
`{"cluster": {"chief": [...], "worker": [...], "ps": [...]}, "task": {"type": "worker", "index": 0}}`.
"""

from __future__ import annotations

import json
import os
from typing import Any

import tensorflow as tf

v1 = tf.compat.v1

_UNSET = object()


class TaskType:
    MASTER = "master"
    PS = "ps"
    WORKER = "worker"
    CHIEF = "chief"
    EVALUATOR = "evaluator"


_KNOWN_TASK_TYPES = (TaskType.MASTER, TaskType.PS, TaskType.WORKER, TaskType.CHIEF, TaskType.EVALUATOR)
_GRPC = "grpc://"


def _check_non_negative_int(name: str, value: Any, *, allow_none: bool = True, positive: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < (1 if positive else 0):
        rule = "a positive integer" if positive else "a non-negative integer"
        raise ValueError(f"RunConfig {name} must be {rule}{' or None' if allow_none else ''}; received {value!r}.")


def _check_non_negative_number(name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"RunConfig {name} must be a non-negative number or None; received {value!r}.")


def parse_tf_config(raw: str | None) -> dict:
    """Parses TF_CONFIG, naming the problem when it is malformed."""
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}); received {raw!r}.") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object with 'cluster' and 'task'; received {raw!r}.")
    return parsed


class RunConfig:
    """Configuration of an Estimator run; immutable after construction, change it with `replace()`."""

    _REPLACEABLE = (
        "model_dir",
        "tf_random_seed",
        "save_summary_steps",
        "save_checkpoints_steps",
        "save_checkpoints_secs",
        "session_config",
        "keep_checkpoint_max",
        "keep_checkpoint_every_n_hours",
        "log_step_count_steps",
        "train_distribute",
        "eval_distribute",
        "device_fn",
        "protocol",
        "experimental_max_worker_delay_secs",
        "session_creation_timeout_secs",
        "checkpoint_save_graph_def",
        "jit_compile",
    )

    def __init__(
        self,
        model_dir: str | None = None,
        tf_random_seed: int | None = None,
        save_summary_steps: int = 100,
        save_checkpoints_steps: int | None = _UNSET,  # type: ignore[assignment]
        save_checkpoints_secs: int | None = _UNSET,  # type: ignore[assignment]
        session_config: Any = None,
        keep_checkpoint_max: int = 5,
        keep_checkpoint_every_n_hours: float = 10000,
        log_step_count_steps: int = 100,
        train_distribute: Any = None,
        device_fn: Any = None,
        protocol: str | None = None,
        eval_distribute: Any = None,
        experimental_distribute: Any = None,
        experimental_max_worker_delay_secs: int | None = None,
        session_creation_timeout_secs: int = 7200,
        checkpoint_save_graph_def: bool = True,
        jit_compile: bool = False,
    ):
        steps_given = save_checkpoints_steps is not _UNSET and save_checkpoints_steps is not None
        secs_given = save_checkpoints_secs is not _UNSET and save_checkpoints_secs is not None
        if steps_given and secs_given:
            raise ValueError(
                "RunConfig takes save_checkpoints_steps or save_checkpoints_secs, not both; received "
                f"save_checkpoints_steps={save_checkpoints_steps!r} and save_checkpoints_secs={save_checkpoints_secs!r}."
            )
        if save_checkpoints_steps is _UNSET:
            save_checkpoints_steps = None
        if save_checkpoints_secs is _UNSET:
            save_checkpoints_secs = None if steps_given else 600
        if model_dir is not None:
            if not isinstance(model_dir, (str, os.PathLike)) or not str(model_dir):
                raise ValueError(f"RunConfig model_dir must be a non-empty path string; received {model_dir!r}.")
            model_dir = os.fspath(model_dir)
        _check_non_negative_int("tf_random_seed", tf_random_seed)
        _check_non_negative_int("save_summary_steps", save_summary_steps)
        _check_non_negative_int("save_checkpoints_steps", save_checkpoints_steps, positive=True)
        _check_non_negative_number("save_checkpoints_secs", save_checkpoints_secs)
        _check_non_negative_int("keep_checkpoint_max", keep_checkpoint_max)
        _check_non_negative_number("keep_checkpoint_every_n_hours", keep_checkpoint_every_n_hours)
        _check_non_negative_int("log_step_count_steps", log_step_count_steps)
        if session_config is not None and not isinstance(session_config, v1.ConfigProto):
            raise ValueError(f"RunConfig session_config must be a tf.compat.v1.ConfigProto; received {session_config!r}.")
        for name, strategy in (("train_distribute", train_distribute), ("eval_distribute", eval_distribute)):
            if strategy is not None and not isinstance(strategy, tf.distribute.Strategy | v1.distribute.Strategy):
                raise ValueError(
                    f"RunConfig {name} must be a tf.distribute.Strategy (for example "
                    f"tf.compat.v1.distribute.MirroredStrategy()); received {strategy!r}."
                )
        if protocol not in (None, "grpc"):
            raise ValueError(f"RunConfig protocol must be None or 'grpc'; received {protocol!r}.")
        if not isinstance(jit_compile, bool):
            raise ValueError(
                f"RunConfig jit_compile must be True (compile each training step with XLA) or False; "
                f"received {jit_compile!r}."
            )
        if experimental_distribute is not None:
            raise ValueError(
                "RunConfig experimental_distribute is not supported; pass train_distribute/eval_distribute."
            )
        self._model_dir = model_dir
        self._tf_random_seed = tf_random_seed
        self._save_summary_steps = save_summary_steps
        self._save_checkpoints_steps = save_checkpoints_steps
        self._save_checkpoints_secs = save_checkpoints_secs
        self._session_config = session_config
        self._keep_checkpoint_max = keep_checkpoint_max
        self._keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours
        self._log_step_count_steps = log_step_count_steps
        self._train_distribute = train_distribute
        self._eval_distribute = eval_distribute
        self._device_fn = device_fn
        self._protocol = protocol
        self._experimental_max_worker_delay_secs = experimental_max_worker_delay_secs
        self._session_creation_timeout_secs = session_creation_timeout_secs
        self._checkpoint_save_graph_def = checkpoint_save_graph_def
        self._jit_compile = jit_compile
        self._init_cluster(parse_tf_config(os.environ.get("TF_CONFIG")))

    # ---- cluster, from TF_CONFIG -------------------------------------------------------------------
    def _init_cluster(self, tf_config: dict) -> None:
        cluster = tf_config.get("cluster") or {}
        task = tf_config.get("task") or {}
        if not isinstance(cluster, dict) or not isinstance(task, dict):
            raise ValueError(f"TF_CONFIG 'cluster' and 'task' must be objects; received {tf_config!r}.")
        for job, addresses in cluster.items():
            if job not in _KNOWN_TASK_TYPES:
                raise ValueError(
                    f"TF_CONFIG cluster has an unknown job {job!r}; use chief, worker, ps or evaluator."
                )
            if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
                raise ValueError(f"TF_CONFIG cluster[{job!r}] must be a list of 'host:port'; received {addresses!r}.")
        if TaskType.EVALUATOR in cluster:
            raise ValueError(
                "TF_CONFIG cluster must not list 'evaluator': the evaluator is not part of the training cluster. "
                "Give the evaluator task type 'evaluator' with the training cluster only."
            )
        if TaskType.CHIEF in cluster and len(cluster[TaskType.CHIEF]) != 1:
            raise ValueError(f"TF_CONFIG cluster must have exactly one chief; received {cluster[TaskType.CHIEF]!r}.")
        task_type = task.get("type")
        task_id = task.get("index", 0)
        if cluster and task_type is None:
            raise ValueError("TF_CONFIG has a cluster but no task.type; set task {'type': 'worker', 'index': 0}.")
        if task_type is not None and task_type not in _KNOWN_TASK_TYPES:
            raise ValueError(f"TF_CONFIG task.type {task_type!r} is unknown; use chief, worker, ps or evaluator.")
        if isinstance(task_id, bool) or not isinstance(task_id, int) or task_id < 0:
            raise ValueError(f"TF_CONFIG task.index must be a non-negative integer; received {task_id!r}.")
        if task_type not in (None, TaskType.EVALUATOR):
            if task_type not in cluster or task_id >= len(cluster[task_type]):
                raise ValueError(
                    f"TF_CONFIG task {task_type}:{task_id} is not in the cluster {cluster!r}; "
                    "check task.type and task.index."
                )
        if task_type == TaskType.EVALUATOR and task_id != 0:
            raise ValueError(f"TF_CONFIG allows one evaluator (index 0); received index {task_id}.")
        self._cluster = cluster
        self._task_type = task_type or (TaskType.WORKER if not cluster else None)
        self._task_id = task_id
        if cluster and task_type in cluster:
            self._master = _GRPC + cluster[task_type][task_id]
        else:
            self._master = ""
        self._evaluation_master = ""
        self._num_ps_replicas = len(cluster.get(TaskType.PS, []))
        self._num_worker_replicas = (
            len(cluster.get(TaskType.WORKER, [])) + len(cluster.get(TaskType.CHIEF, [])) + len(cluster.get(TaskType.MASTER, []))
        ) or 1
        if not cluster:
            self._is_chief = True
        elif TaskType.CHIEF in cluster or TaskType.MASTER in cluster:
            self._is_chief = task_type in (TaskType.CHIEF, TaskType.MASTER)
        else:
            self._is_chief = task_type == TaskType.WORKER and task_id == 0
        if task_type in (TaskType.CHIEF, TaskType.MASTER):
            self._global_id = 0
        elif task_type == TaskType.WORKER:
            self._global_id = task_id + (1 if (TaskType.CHIEF in cluster or TaskType.MASTER in cluster) else 0)
        else:
            self._global_id = None

    @property
    def cluster_spec(self) -> tf.train.ClusterSpec:
        return tf.train.ClusterSpec(self._cluster)

    @property
    def task_type(self) -> str | None:
        return self._task_type

    @property
    def task_id(self) -> int:
        return self._task_id

    @property
    def master(self) -> str:
        return self._master

    @property
    def evaluation_master(self) -> str:
        return self._evaluation_master

    @property
    def is_chief(self) -> bool:
        return self._is_chief

    @property
    def num_worker_replicas(self) -> int:
        return self._num_worker_replicas

    @property
    def num_ps_replicas(self) -> int:
        return self._num_ps_replicas

    @property
    def global_id_in_cluster(self) -> int | None:
        return self._global_id

    # ---- plain fields ------------------------------------------------------------------------------
    model_dir = property(lambda self: self._model_dir)
    tf_random_seed = property(lambda self: self._tf_random_seed)
    save_summary_steps = property(lambda self: self._save_summary_steps)
    save_checkpoints_steps = property(lambda self: self._save_checkpoints_steps)
    save_checkpoints_secs = property(lambda self: self._save_checkpoints_secs)
    session_config = property(lambda self: self._session_config)
    keep_checkpoint_max = property(lambda self: self._keep_checkpoint_max)
    keep_checkpoint_every_n_hours = property(lambda self: self._keep_checkpoint_every_n_hours)
    log_step_count_steps = property(lambda self: self._log_step_count_steps)
    train_distribute = property(lambda self: self._train_distribute)
    eval_distribute = property(lambda self: self._eval_distribute)
    device_fn = property(lambda self: self._device_fn)
    protocol = property(lambda self: self._protocol)
    experimental_max_worker_delay_secs = property(lambda self: self._experimental_max_worker_delay_secs)
    session_creation_timeout_secs = property(lambda self: self._session_creation_timeout_secs)
    checkpoint_save_graph_def = property(lambda self: self._checkpoint_save_graph_def)
    # True: the model_fn's training ops are compiled with XLA (see _graph.xla_scope and docs/benchmarks.md).
    jit_compile = property(lambda self: self._jit_compile)

    def replace(self, **kwargs: Any) -> "RunConfig":
        """Returns a copy with some fields changed; only the constructor's arguments may change."""
        unknown = sorted(set(kwargs) - set(self._REPLACEABLE))
        if unknown:
            raise ValueError(f"RunConfig.replace() cannot change {unknown}; it accepts {list(self._REPLACEABLE)}.")
        values = {name: getattr(self, name) for name in self._REPLACEABLE}
        if "save_checkpoints_steps" in kwargs and kwargs["save_checkpoints_steps"] is not None:
            values["save_checkpoints_secs"] = None
        if "save_checkpoints_secs" in kwargs and kwargs["save_checkpoints_secs"] is not None:
            values["save_checkpoints_steps"] = None
        values.update(kwargs)
        return self._rebuild(values)

    def _rebuild(self, values: dict) -> "RunConfig":
        return type(self)(**values)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._REPLACEABLE[:9])
        return f"{type(self).__name__}({fields}, task={self.task_type}:{self.task_id})"
