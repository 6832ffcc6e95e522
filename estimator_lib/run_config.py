"""`RunConfig`: where a model lives, how often it checkpoints and logs, and its place in a cluster.

The cluster fields come from the `TF_CONFIG` environment variable, as with the original Estimator:
`{"cluster": {"chief": [...], "worker": [...], "ps": [...]}, "task": {"type": "worker", "index": 0}}`.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import tensorflow as tf

from estimator_lib import validation
from estimator_lib.tf_config import parse_tf_config

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
    validation.check_int(f"RunConfig {name}", value, minimum=1 if positive else 0, allow_none=allow_none)


def _check_non_negative_number(name: str, value: Any) -> None:
    validation.check_number(f"RunConfig {name}", value, allow_none=True)


def _check_one_cadence(steps: Any, secs: Any) -> None:
    if steps is not None and secs is not None:
        raise ValueError(
            "RunConfig takes save_checkpoints_steps or save_checkpoints_secs, not both; received "
            f"save_checkpoints_steps={steps!r} and save_checkpoints_secs={secs!r}."
        )


def _check_fields(fields: dict) -> None:
    """The rules for every constructor field, shared by __init__ and replace()."""
    model_dir = fields["model_dir"]
    if model_dir is not None and (not isinstance(model_dir, (str, os.PathLike)) or not str(model_dir)):
        raise ValueError(f"RunConfig model_dir must be a non-empty path string; received {model_dir!r}.")
    _check_one_cadence(fields["save_checkpoints_steps"], fields["save_checkpoints_secs"])
    _check_non_negative_int("tf_random_seed", fields["tf_random_seed"])
    _check_non_negative_int("save_summary_steps", fields["save_summary_steps"])
    _check_non_negative_int("save_checkpoints_steps", fields["save_checkpoints_steps"], positive=True)
    _check_non_negative_number("save_checkpoints_secs", fields["save_checkpoints_secs"])
    _check_non_negative_int("keep_checkpoint_max", fields["keep_checkpoint_max"])
    _check_non_negative_number("keep_checkpoint_every_n_hours", fields["keep_checkpoint_every_n_hours"])
    _check_non_negative_int("log_step_count_steps", fields["log_step_count_steps"])
    session_config = fields["session_config"]
    if session_config is not None and not isinstance(session_config, v1.ConfigProto):
        raise validation.WrongTypeError(
            f"RunConfig session_config must be a tf.compat.v1.ConfigProto; received {session_config!r}."
        )
    for name in ("train_distribute", "eval_distribute"):
        strategy = fields[name]
        if strategy is not None and not isinstance(strategy, tf.distribute.Strategy | v1.distribute.Strategy):
            raise validation.WrongTypeError(
                f"RunConfig {name} must be a tf.distribute.Strategy (for example "
                f"tf.compat.v1.distribute.MirroredStrategy()); received {strategy!r}."
            )
    if fields["protocol"] not in (None, "grpc"):
        raise ValueError(f"RunConfig protocol must be None or 'grpc'; received {fields['protocol']!r}.")
    if not isinstance(fields["jit_compile"], bool):
        raise validation.WrongTypeError(
            "RunConfig jit_compile must be True (compile each training step with XLA) or False; "
            f"received {fields['jit_compile']!r}."
        )


def _model_dir_with_tf_config(model_dir: str | None, tf_config: dict) -> str | None:
    """TF_CONFIG may name the model directory; it must agree with the one given to RunConfig."""
    if "model_dir" not in tf_config:
        return model_dir
    from_env = tf_config["model_dir"]
    if not isinstance(from_env, str) or not from_env:
        raise ValueError(f"TF_CONFIG model_dir must be a non-empty path string; received {from_env!r}.")
    if model_dir and model_dir != from_env:
        raise ValueError(
            f"RunConfig model_dir={model_dir!r} differs from TF_CONFIG model_dir={from_env!r}; give one of them, "
            "or the same path in both."
        )
    return model_dir or from_env


def _task_from(task: dict, cluster: dict) -> tuple[str, int]:
    """(task.type, task.index) checked against the cluster, with the original's rules."""
    task_type = task.get("type")
    if not task_type:
        raise ValueError("TF_CONFIG has a cluster but no task.type; set task {'type': 'worker', 'index': 0}.")
    if "index" not in task:
        raise ValueError(
            f"TF_CONFIG has a cluster but no task.index for task type {task_type!r}; set it, for example "
            "task {'type': 'worker', 'index': 0}."
        )
    task_id = task["index"]
    if isinstance(task_id, str) and task_id.isdigit():
        task_id = int(task_id)
    validation.check_int("TF_CONFIG task.index", task_id, minimum=0)
    if task_type == TaskType.EVALUATOR:
        return task_type, task_id
    if task_type not in cluster:
        if task_type in _KNOWN_TASK_TYPES:
            raise ValueError(
                f"TF_CONFIG task {task_type}:{task_id} is not in the cluster {cluster!r}; check task.type and "
                "task.index."
            )
        raise ValueError(
            f"TF_CONFIG task.type {task_type!r} is unknown: it is neither 'evaluator' nor a job of the cluster "
            f"{sorted(cluster)}."
        )
    if task_id >= len(cluster[task_type]):
        raise ValueError(
            f"TF_CONFIG task {task_type}:{task_id} is not in the cluster {cluster!r}; check task.type and task.index."
        )
    return task_type, task_id


def _global_id(cluster: dict, chief_type: str, task_type: str, task_id: int) -> int | None:
    """The task's number among all training tasks: the chief first, then the other jobs by name, ps last."""
    if task_type == TaskType.EVALUATOR:
        return None
    order = [chief_type] if chief_type in cluster else []
    order += sorted(job for job in cluster if job not in (chief_type, TaskType.PS))
    order += [TaskType.PS] if TaskType.PS in cluster else []
    offset = 0
    for job in order:
        if job == task_type:
            return offset + task_id
        offset += len(cluster[job])
    return None


class RunConfig:
    """Configuration of an Estimator run; immutable after construction, change it with `replace()`.

    Every argument is checked when the config is built, so a bad value fails before a graph is. The cluster
    (`task_type`, `task_id`, `is_chief`, `num_worker_replicas`, `master`, `cluster_spec`) is read from the
    `TF_CONFIG` environment variable at construction, which is how a multi-worker job tells each process
    its role.

    Args:
        model_dir: Where checkpoints and summaries go. `TF_CONFIG` may name it too; both must then agree.
        tf_random_seed: The graph-level seed of every graph the Estimator builds (reproducible runs).
        save_summary_steps: Write summaries (the loss, `tf.summary` ops) every this many steps; 0 turns
            them off.
        save_checkpoints_steps: Checkpoint every this many steps. Give this or `save_checkpoints_secs`, not
            both; neither means every 600 seconds. A checkpoint is also written when training ends.
        save_checkpoints_secs: Checkpoint every this many seconds (the default, 600, when neither is given).
        session_config: A `tf.compat.v1.ConfigProto` for the sessions (threads, device placement).
        keep_checkpoint_max: How many recent checkpoints to keep; older ones are deleted. 0 or None keeps all.
        keep_checkpoint_every_n_hours: Also keep one checkpoint per this many hours, beyond
            `keep_checkpoint_max`.
        log_step_count_steps: Log the loss, step and steps/sec every this many steps; 0 turns it off.
        train_distribute: A `tf.distribute` strategy for training (MirroredStrategy over GPUs or virtual
            CPUs, MultiWorkerMirroredStrategy, a TPU strategy); None trains on one device.
        device_fn: Accepted for compatibility with tf.estimator; device placement comes from the strategy.
        protocol: None or 'grpc', the only protocol the cluster servers speak.
        eval_distribute: A `tf.distribute` strategy for evaluation; None evaluates on one device.
        experimental_distribute: Refused: pass `train_distribute` / `eval_distribute` instead.
        experimental_max_worker_delay_secs: Accepted for compatibility with tf.estimator.
        session_creation_timeout_secs: How long a worker waits for the chief to initialise the model
            before giving up.
        checkpoint_save_graph_def: Write the graph to the model directory (`graph.pbtxt`, and a `.meta` file
            with each checkpoint); False saves the disk and time a very large graph costs.
        jit_compile: Compile each training step with XLA.

    Raises:
        ValueError: An argument has the wrong type or a negative value (the message names it and the rule);
            both checkpoint cadences are given; `experimental_distribute` is given; `model_dir` disagrees
            with `TF_CONFIG`'s; `TF_CONFIG` is not valid JSON or describes an impossible cluster (an
            evaluator inside the cluster, two chiefs, a task not in the cluster).
        TypeError: `TF_CONFIG`'s `service` is not an object.
    """

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
        if save_checkpoints_steps is _UNSET:
            save_checkpoints_steps = None
        if save_checkpoints_secs is _UNSET:
            save_checkpoints_secs = None if steps_given else 600
        if steps_given and secs_given:
            _check_one_cadence(save_checkpoints_steps, save_checkpoints_secs)
        if experimental_distribute is not None:
            raise ValueError(
                "RunConfig experimental_distribute is not supported; pass train_distribute/eval_distribute."
            )
        tf_config = parse_tf_config(os.environ.get("TF_CONFIG"))
        if model_dir is not None:
            if not isinstance(model_dir, (str, os.PathLike)) or not str(model_dir):
                raise ValueError(f"RunConfig model_dir must be a non-empty path string; received {model_dir!r}.")
            model_dir = os.fspath(model_dir)
        fields = dict(
            model_dir=_model_dir_with_tf_config(model_dir, tf_config),
            tf_random_seed=tf_random_seed,
            save_summary_steps=save_summary_steps,
            save_checkpoints_steps=save_checkpoints_steps,
            save_checkpoints_secs=save_checkpoints_secs,
            session_config=session_config,
            keep_checkpoint_max=keep_checkpoint_max,
            keep_checkpoint_every_n_hours=keep_checkpoint_every_n_hours,
            log_step_count_steps=log_step_count_steps,
            train_distribute=train_distribute,
            eval_distribute=eval_distribute,
            device_fn=device_fn,
            protocol=protocol,
            experimental_max_worker_delay_secs=experimental_max_worker_delay_secs,
            session_creation_timeout_secs=session_creation_timeout_secs,
            checkpoint_save_graph_def=checkpoint_save_graph_def,
            jit_compile=jit_compile,
        )
        _check_fields(fields)
        self._set_fields(fields)
        self._init_cluster(tf_config)

    def _set_fields(self, fields: dict) -> None:
        for name, value in fields.items():
            setattr(self, "_" + name, value)

    # ---- cluster, from TF_CONFIG -------------------------------------------------------------------
    def _init_cluster(self, tf_config: dict) -> None:
        cluster = tf_config.get("cluster") or {}
        task = tf_config.get("task") or {}
        if not isinstance(cluster, dict) or not isinstance(task, dict):
            raise ValueError(f"TF_CONFIG 'cluster' and 'task' must be objects; received {tf_config!r}.")
        for job, addresses in cluster.items():
            if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
                raise ValueError(f"TF_CONFIG cluster[{job!r}] must be a list of 'host:port'; received {addresses!r}.")
        service = tf_config.get("service")
        if service is not None and not isinstance(service, dict):
            raise TypeError(f"TF_CONFIG service must be an object (a dict); received {service!r}.")
        self._service = service
        self._cluster = cluster
        session_master = tf_config.get("session_master")
        eval_session_master = tf_config.get("eval_session_master", "")
        if not cluster:
            self._init_single_process(task, session_master, eval_session_master)
            return
        if TaskType.EVALUATOR in cluster:
            raise ValueError(
                "TF_CONFIG cluster must not list 'evaluator': the evaluator is not part of the training cluster. "
                "Give the evaluator task type 'evaluator' with the training cluster only."
            )
        chief_type = TaskType.MASTER if TaskType.MASTER in cluster else TaskType.CHIEF
        if TaskType.MASTER in cluster and TaskType.CHIEF in cluster:
            raise ValueError("TF_CONFIG cluster may have a 'master' or a 'chief' job, not both.")
        if chief_type in cluster and len(cluster[chief_type]) != 1:
            raise ValueError(f"TF_CONFIG cluster must have exactly one {chief_type}; received {cluster[chief_type]!r}.")
        task_type, task_id = _task_from(task, cluster)
        self._task_type, self._task_id = task_type, task_id
        if task_type == TaskType.EVALUATOR:
            if chief_type == TaskType.MASTER:
                raise ValueError("TF_CONFIG with a 'master' job has no 'evaluator' task; the master evaluates itself.")
            self._master = ""
            self._evaluation_master = eval_session_master
        else:
            single_node = len(cluster) == 1 and len(next(iter(cluster.values()))) == 1
            self._master = session_master if session_master is not None else (
                "" if single_node else _GRPC + cluster[task_type][task_id]
            )
            self._evaluation_master = ""
        self._num_ps_replicas = len(cluster.get(TaskType.PS, []))
        self._num_worker_replicas = (
            len(cluster.get(TaskType.WORKER, []))
            + len(cluster.get(TaskType.CHIEF, []))
            + len(cluster.get(TaskType.MASTER, []))
        ) or 1
        if chief_type in cluster:
            self._is_chief = task_type == chief_type
        else:  # workers only (MultiWorkerMirroredStrategy): worker 0 is the chief
            self._is_chief = task_type == TaskType.WORKER and task_id == 0
        self._global_id = _global_id(cluster, chief_type, task_type, task_id)

    def _init_single_process(self, task: dict, session_master: str | None, eval_session_master: str) -> None:
        """No cluster: one worker (index 0) that is its own chief, as in the original."""
        task_type = task.get("type") or TaskType.WORKER
        task_id = task.get("index", 0)
        if task_type != TaskType.WORKER:
            raise ValueError(
                f"TF_CONFIG has no cluster, so task.type must be 'worker' (or unset); received {task_type!r}. "
                "Add the cluster, or drop the task."
            )
        if task_id not in (0, "0"):
            raise ValueError(f"TF_CONFIG has no cluster, so task.index must be 0; received {task_id!r}.")
        self._task_type, self._task_id = TaskType.WORKER, 0
        self._master = session_master if session_master is not None else ""
        self._evaluation_master = eval_session_master
        self._num_ps_replicas, self._num_worker_replicas = 0, 1
        self._is_chief, self._global_id = True, 0

    @property
    def service(self) -> dict | None:
        """TF_CONFIG's 'service' object (for example a cloud service's settings), or None."""
        return self._service

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

    def replace(self, **kwargs: Any) -> RunConfig:
        """Returns a copy with some fields changed; only the constructor's arguments may change.

        The copy keeps this config's class, extra attributes and cluster role: TF_CONFIG is not read again.
        """
        unknown = sorted(set(kwargs) - set(self._REPLACEABLE))
        if unknown:
            raise ValueError(f"RunConfig.replace() cannot change {unknown}; it accepts {list(self._REPLACEABLE)}.")
        values = {name: getattr(self, name) for name in self._REPLACEABLE}
        if "save_checkpoints_steps" in kwargs and kwargs["save_checkpoints_steps"] is not None:
            values["save_checkpoints_secs"] = None
        if "save_checkpoints_secs" in kwargs and kwargs["save_checkpoints_secs"] is not None:
            values["save_checkpoints_steps"] = None
        values.update(kwargs)
        if set(kwargs) - set(RunConfig._REPLACEABLE):
            return self._rebuild(values)  # a subclass's own fields: it knows how to build itself
        fields = {name: values[name] for name in RunConfig._REPLACEABLE}
        if fields["model_dir"] is not None:
            fields["model_dir"] = os.fspath(fields["model_dir"]) if str(fields["model_dir"]) else ""
        _check_fields(fields)
        changed = copy.copy(self)
        changed._set_fields(fields)  # noqa: SLF001 - a fresh copy of this class
        return changed

    def _rebuild(self, values: dict) -> RunConfig:
        return type(self)(**values)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._REPLACEABLE[:9])
        return f"{type(self).__name__}({fields}, task={self.task_type}:{self.task_id})"
