"""Multi-worker training from TF_CONFIG: which role a task plays and how its session reaches the cluster.

Graph-mode collective training (tf.compat.v1 MultiWorkerMirroredStrategy) works on TF 2.21 when every
training task (a) creates its session on its own gRPC server, (b) initialises its variables itself (the
initialisers broadcast the chief's values, so a worker must not wait for the chief as with parameter
servers) and (c) runs the same save and summary ops as the chief, in lockstep; a worker writes those to a
scratch directory of its own. Parameter servers are not supported.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from typing import Any

import tensorflow as tf

v1 = tf.compat.v1

CHIEF = "chief"
MASTER = "master"
WORKER = "worker"
EVALUATOR = "evaluator"
_TRAINING_JOBS = ("chief", "master", "worker")

_servers: dict[tuple[str, int], Any] = {}
_scratch_dirs: dict[tuple[str, int], str] = {}


def _cluster(config: Any) -> dict:
    spec = config.cluster_spec
    return spec.as_dict() if spec is not None else {}


def _num_training_tasks(cluster: dict) -> int:
    return sum(len(cluster.get(job, [])) for job in _TRAINING_JOBS)


def is_distributed(config: Any) -> bool:
    """True when TF_CONFIG gives this task a cluster role (any cluster, or the evaluator task).

    As with tf.estimator, a cluster of one chief is distributed too: the chief trains and an evaluator
    task (if any) evaluates. A legacy `master` task trains and evaluates itself.
    """
    return config.task_type == EVALUATOR or bool(_cluster(config))


def task_role(config: Any) -> str:
    """CHIEF, MASTER, WORKER or EVALUATOR for this task; parameter servers are refused."""
    check_no_ps(config)
    task_type = config.task_type
    if task_type == "chief":
        return CHIEF
    if task_type == "master":
        return MASTER
    if task_type == "worker":
        return WORKER
    if task_type == EVALUATOR:
        return EVALUATOR
    raise ValueError(
        f"train_and_evaluate cannot run task type {task_type!r}; TF_CONFIG task.type must be chief, master, "
        "worker or evaluator."
    )


def check_no_ps(config: Any) -> None:
    cluster = _cluster(config)
    if config.task_type == "ps" or "ps" in cluster:
        raise ValueError(
            "Parameter-server training is not supported: this library trains several workers with a "
            "collective all-reduce strategy in graph mode, which has no parameter servers. Received "
            f"TF_CONFIG cluster jobs {sorted(cluster)} and task type {config.task_type!r}. Remove 'ps' from the "
            "cluster and set RunConfig(train_distribute="
            "tf.compat.v1.distribute.experimental.MultiWorkerMirroredStrategy())."
        )


def is_multi_worker(strategy: Any) -> bool:
    """True for a strategy that spans several worker processes (collective all-reduce)."""
    if strategy is None:
        return False
    in_multi_worker_mode = getattr(strategy.extended, "_in_multi_worker_mode", None)
    return bool(in_multi_worker_mode and in_multi_worker_mode())


def check_trainer_config(config: Any) -> None:
    """A chief/worker of a multi-task cluster needs a multi-worker strategy built from the same cluster."""
    check_no_ps(config)
    cluster = _cluster(config)
    if _num_training_tasks(cluster) <= 1:
        return
    strategy = config.train_distribute
    if not is_multi_worker(strategy):
        raise ValueError(
            f"TF_CONFIG describes {_num_training_tasks(cluster)} training tasks ({sorted(cluster)}), but "
            f"RunConfig.train_distribute={strategy!r} does not span them, so each task would train on its own. "
            "Create tf.compat.v1.distribute.experimental.MultiWorkerMirroredStrategy() (it reads TF_CONFIG) and "
            "pass it as RunConfig(train_distribute=...)."
        )
    own = (config.task_type, config.task_id)
    theirs = (strategy.extended._task_type, strategy.extended._task_id)  # noqa: SLF001 - no public accessor
    if own != theirs:
        raise ValueError(
            f"RunConfig says this task is {own[0]}:{own[1]} but the strategy was built for {theirs[0]}:{theirs[1]}; "
            "build the strategy after setting TF_CONFIG, in the same process."
        )


def session_config(strategy: Any, base: v1.ConfigProto) -> v1.ConfigProto:
    """The session config with the strategy's collective settings (group leader, device filters)."""
    return strategy.update_config_proto(base)


def session_target(strategy: Any, config: Any, proto: v1.ConfigProto) -> str:
    """The gRPC target this task's training session must use, starting the task's server if needed.

    A strategy built in eager mode has already started a server at the task's address (it enables
    collective ops in the eager context); a strategy built inside a graph has not, so one is started here,
    once per process.
    """
    address = config.cluster_spec.task_address(config.task_type, config.task_id)
    if getattr(strategy.extended, "_std_server_started", False):
        return "grpc://" + address
    key = (config.task_type, config.task_id)
    if key not in _servers:
        _servers[key] = tf.distribute.Server(
            config.cluster_spec, job_name=config.task_type, task_index=config.task_id, config=proto, start=True
        )
    return _servers[key].target


def scratch_dir(config: Any) -> str:
    """Where a non-chief worker writes the checkpoints and summaries it must produce but nobody reads."""
    key = (config.task_type, config.task_id)
    if key not in _scratch_dirs:
        path = tempfile.mkdtemp(prefix=f"estimator_lib_{config.task_type}_{config.task_id}_")
        atexit.register(shutil.rmtree, path, ignore_errors=True)  # nobody reads it after the process ends
        _scratch_dirs[key] = path
    return _scratch_dirs[key]


def training_session_args(strategy: Any, config: Any, base: v1.ConfigProto) -> dict | None:
    """master/is_chief/config for the training session of a multi-worker task, or None when not multi-worker.

    Every task initialises (is_chief=True for the session creator): the variable initialisers are
    collectives that need all tasks.
    """
    if not is_multi_worker(strategy):
        return None
    proto = session_config(strategy, base)
    return {"master": session_target(strategy, config, proto), "is_chief": True, "config": proto}


def check_step_based_saving(config: Any) -> None:
    """Collective training needs every task to save at the same step, so time-based saving is refused."""
    if config.save_checkpoints_steps is None and config.save_checkpoints_secs:
        raise ValueError(
            "Multi-worker collective training saves checkpoints on every task at the same global step, so it "
            f"needs step-based saving; received save_checkpoints_secs={config.save_checkpoints_secs!r}. "
            "Use RunConfig(save_checkpoints_steps=N) (time-based triggers fire at different steps on different "
            "workers and would deadlock the all-reduce)."
        )


def worker_mirror_hooks(config: Any, scaffold: v1.train.Scaffold) -> list:
    """For a non-chief task: the chief's checkpoint and summary hooks, same schedule, into a scratch dir.

    The save and summary ops must run on every task at the same steps (the chief's would otherwise wait
    for peers that never come), but only the chief's files matter.
    """
    output_dir = scratch_dir(config)
    save_steps = config.save_checkpoints_steps or 10**12  # no periodic saving: the chief saves at start/end
    hooks: list = [
        v1.train.CheckpointSaverHook(output_dir, save_steps=save_steps, scaffold=scaffold, save_graph_def=False)
    ]
    if config.save_summary_steps:
        hooks.append(
            v1.train.SummarySaverHook(save_steps=config.save_summary_steps, output_dir=output_dir, scaffold=scaffold)
        )
    return hooks


_AGREEMENT_KEY_BASE = 1 << 28  # far above the keys strategies allocate (they count up from 1)
_AGREEMENT_COLLECTION = "estimator_lib_multi_worker_agreements"


def agreement_op(config: Any) -> tuple[tf.Tensor, tf.Tensor]:
    """(flag placeholder, max of the flag over all training tasks) in the current graph.

    Lets hooks take one decision together (e.g. stop now): every task must run the reduction at the same
    session.run; the ops get keys from their creation order, which is the same on every task.
    """
    graph = tf.compat.v1.get_default_graph()
    index = len(graph.get_collection(_AGREEMENT_COLLECTION))
    from tensorflow.python.ops import collective_ops  # the graph-mode collective op; no public v1 alias

    flag = v1.placeholder(tf.float32, [], name=f"agreement_flag_{index}")
    with tf.device(f"/job:{config.task_type}/task:{config.task_id}/device:CPU:0"):
        agreed = collective_ops.all_reduce(
            flag,
            group_size=_num_training_tasks(_cluster(config)),
            group_key=_AGREEMENT_KEY_BASE,
            instance_key=_AGREEMENT_KEY_BASE + index,
            merge_op="Max",
            final_op="Id",
        )
    graph.add_to_collection(_AGREEMENT_COLLECTION, agreed)
    return flag, agreed


FINISHED_MARKER = "training_finished.json"


def clear_finished(model_dir: str) -> None:
    """The chief removes the marker of an earlier run before training again."""
    path = os.path.join(model_dir, FINISHED_MARKER)
    if tf.io.gfile.exists(path):
        tf.io.gfile.remove(path)


def mark_finished(model_dir: str, global_step: int) -> None:
    """The chief records the step training ended at (also when a hook stopped it before max_steps)."""
    path = os.path.join(model_dir, FINISHED_MARKER)
    temp = path + ".tmp"
    with tf.io.gfile.GFile(temp, "w") as f:
        f.write(json.dumps({"global_step": int(global_step)}))
    tf.io.gfile.rename(temp, path, overwrite=True)


def finished_step(model_dir: str) -> int | None:
    """The step the chief finished training at, or None while it trains."""
    path = os.path.join(model_dir, FINISHED_MARKER)
    try:
        with tf.io.gfile.GFile(path) as f:
            return int(json.loads(f.read())["global_step"])
    except (tf.errors.NotFoundError, ValueError, KeyError):
        return None
