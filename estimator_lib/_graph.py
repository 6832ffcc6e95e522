"""All tf.compat.v1 Graph / Session / Scaffold plumbing lives here.

The rest of the library asks for "a fresh graph", "a scaffold with our saver", "a training session" or
"an evaluation session" and never touches sessions itself.
"""

from __future__ import annotations

import collections
import contextlib
from typing import Any, Iterator, Sequence

import tensorflow as tf

from estimator_lib import checkpoints
from estimator_lib.distribute import graph_mode, multi_worker
from estimator_lib.run_config import RunConfig

v1 = tf.compat.v1


@contextlib.contextmanager
def _fresh_keras_names() -> Iterator[None]:
    """Keras 3 numbers auto-named layers per process ("dense", "dense_1", ...), unlike tf.keras which did
    it per graph. Each model_fn call builds a new graph, so without this the eval graph's variables would
    not match the training checkpoint. Give each graph its own counter, then restore the caller's."""
    try:
        from keras.src.backend.common import global_state
    except ImportError:  # pragma: no cover - Keras 3 ships with TF 2.16+
        yield
        return
    previous = global_state.get_global_attribute("object_name_uids")
    global_state.set_global_attribute("object_name_uids", collections.defaultdict(int))
    try:
        yield
    finally:
        global_state.set_global_attribute("object_name_uids", previous)


@contextlib.contextmanager
def fresh_graph(seed: int | None) -> Iterator[tf.Graph]:
    """A new default graph with the run's random seed and fresh Keras layer names."""
    graph = tf.Graph()
    with graph.as_default(), _fresh_keras_names():
        if seed is not None:
            v1.set_random_seed(seed)
        yield graph


def session_config(config: RunConfig) -> v1.ConfigProto:
    if config.session_config is not None:
        return config.session_config
    proto = v1.ConfigProto(allow_soft_placement=True)
    return proto


def make_saver(config: RunConfig, var_list=None) -> v1.train.Saver:
    """The checkpoint saver: sharded, keeping `keep_checkpoint_max`, relative paths so model dirs can move."""
    saver = v1.train.Saver(
        var_list=var_list,
        sharded=True,
        max_to_keep=config.keep_checkpoint_max,
        keep_checkpoint_every_n_hours=config.keep_checkpoint_every_n_hours,
        defer_build=True,
        save_relative_paths=True,
    )
    return saver


def _drop_replica_copies() -> None:
    """Under a strategy, variables made with tf.Variable (as Keras 3 layers make them) leave each replica's
    copy in the variable collections beside their MirroredVariable; tf.compat.v1.get_variable does not.
    Keep only the MirroredVariable, so checkpoints hold one entry per variable ('dense/kernel', never
    'dense/kernel/replica_1') and a model trained on one device restores on several and back."""
    graph = v1.get_default_graph()
    for key in (v1.GraphKeys.GLOBAL_VARIABLES, v1.GraphKeys.TRAINABLE_VARIABLES, v1.GraphKeys.LOCAL_VARIABLES):
        variables = graph.get_collection_ref(key)
        copies = set()
        for variable in variables:
            replicas = getattr(variable, "values", None)
            if isinstance(replicas, tuple):
                copies.update(id(copy) for copy in replicas)
        if copies:
            variables[:] = [v for v in variables if id(v) not in copies]


def finalize_scaffold(scaffold: v1.train.Scaffold, config: RunConfig) -> v1.train.Scaffold:
    """Gives the user's scaffold our saver unless it brought its own (or one is in the SAVERS collection)."""
    _drop_replica_copies()
    if scaffold.saver is None and not v1.get_collection(v1.GraphKeys.SAVERS):
        v1.add_to_collection(v1.GraphKeys.SAVERS, make_saver(config))
    return scaffold


def training_session(
    *,
    scaffold: v1.train.Scaffold,
    config: RunConfig,
    model_dir: str,
    hooks: Sequence[v1.train.SessionRunHook],
    chief_hooks: Sequence[v1.train.SessionRunHook],
    strategy: Any = None,
) -> v1.train.MonitoredSession:
    """A monitored session that restores the newest checkpoint in model_dir (chief) or waits for it."""
    master, is_chief = config.master, config.is_chief
    proto = graph_mode.session_config(strategy, session_config(config))
    multi = multi_worker.training_session_args(config.train_distribute, config, proto)
    if multi is None and not config.num_ps_replicas:
        master = ""  # no parameter servers and no collective strategy: this process trains on its own
    master, hooks = _with_tpu_system(strategy, master, proto, hooks)
    if multi is not None:  # collective multi-worker: every task initialises; non-chiefs mirror the chief's saves
        multi_worker.check_step_based_saving(config)
        master, is_chief, proto = multi["master"], multi["is_chief"], multi["config"]
        if not config.is_chief:
            chief_hooks = list(chief_hooks) + multi_worker.worker_mirror_hooks(config, scaffold)
    if is_chief:
        # Restore the newest complete checkpoint (checkpoints.latest_checkpoint), not whatever the state file
        # names last, so a save cut short by a crash cannot stop training from resuming. The hooks keep
        # MonitoredTrainingSession's order: chief-only hooks first.
        creator = v1.train.ChiefSessionCreator(
            scaffold=scaffold,
            master=master,
            config=proto,
            checkpoint_filename_with_path=checkpoints.latest_checkpoint(model_dir),
        )
        return v1.train.MonitoredSession(session_creator=creator, hooks=list(chief_hooks) + list(hooks))
    return v1.train.MonitoredTrainingSession(
        master=master,
        is_chief=is_chief,
        checkpoint_dir=model_dir,
        scaffold=scaffold,
        hooks=list(hooks),
        chief_only_hooks=list(chief_hooks),
        save_checkpoint_secs=0,
        save_checkpoint_steps=None,
        save_summaries_steps=0,
        save_summaries_secs=0,
        log_step_count_steps=0,
        config=proto,
        max_wait_secs=config.session_creation_timeout_secs,
    )


def restoring_session(
    *,
    scaffold: v1.train.Scaffold,
    config: RunConfig,
    checkpoint_path: str | None,
    hooks: Sequence[v1.train.SessionRunHook],
    strategy: Any = None,
    newest_in: str | None = None,
) -> v1.train.MonitoredSession:
    """A monitored session for eval/predict: restores one checkpoint (or initialises when None).

    With `newest_in` (the model_dir the checkpoint was chosen from), a checkpoint deleted or damaged before
    it was read (a trainer's keep_checkpoint_max collecting it) is replaced by the newest readable one."""
    proto = graph_mode.session_config(strategy, session_config(config))
    master, hooks = _with_tpu_system(strategy, config.evaluation_master, proto, hooks)

    def creator_for(path):
        return v1.train.ChiefSessionCreator(
            scaffold=scaffold, master=master, config=proto, checkpoint_filename_with_path=path
        )

    creator = creator_for(checkpoint_path)
    if newest_in is not None and checkpoint_path is not None:
        creator = _NewestReadableSessionCreator(creator_for, checkpoint_path, newest_in)
    return v1.train.MonitoredSession(session_creator=creator, hooks=list(hooks))


class _NewestReadableSessionCreator(v1.train.SessionCreator):
    """Restores `checkpoint`; when it vanished or broke before the restore read it, the newest readable one."""

    def __init__(self, creator_for, checkpoint: str, model_dir: str, attempts: int = 5):
        self._creator_for, self._checkpoint, self._model_dir, self._attempts = creator_for, checkpoint, model_dir, attempts

    def create_session(self):
        from estimator_lib.storage.checkpoint_scan import checkpoint_problem

        tried = []
        while True:
            try:
                return self._creator_for(self._checkpoint).create_session()
            except (tf.errors.NotFoundError, tf.errors.DataLossError, tf.errors.InvalidArgumentError, ValueError) as error:
                if checkpoint_problem(self._checkpoint) is None or len(tried) >= self._attempts:
                    raise  # the checkpoint is intact: a genuine error (e.g. a variable it lacks)
                tried.append(self._checkpoint)
                newest = checkpoints.latest_checkpoint(self._model_dir)
                if newest is None or newest in tried:
                    raise ValueError(
                        f"No readable checkpoint left in {self._model_dir}: {tried} were deleted or damaged while "
                        "this evaluation/prediction started (a trainer keeping keep_checkpoint_max checkpoints removes "
                        "old ones). Raise the trainer's keep_checkpoint_max, or pass checkpoint_path= of one that is "
                        "kept."
                    ) from error
                tf.get_logger().warning("Checkpoint %s was removed or damaged before it could be read (%s); "
                                        "using the newest readable one, %s.", self._checkpoint,
                                        type(error).__name__, newest)
                self._checkpoint = newest


def _run_tpu_system_op(target: str, config: v1.ConfigProto, make_op) -> None:
    """Runs tpu.initialize_system / shutdown_system in a Session of its own, as the original TPUEstimator did."""
    with tf.Graph().as_default(), v1.Session(target, config=config) as session:
        session.run(make_op())


def initialize_tpu_system(target: str, config: v1.ConfigProto) -> None:
    _run_tpu_system_op(target, config, v1.tpu.initialize_system)


def shutdown_tpu_system(target: str, config: v1.ConfigProto) -> None:
    _run_tpu_system_op(target, config, v1.tpu.shutdown_system)


class TPUSystemHook(v1.train.SessionRunHook):
    """Initialises the TPU system before the session restores anything, and shuts it down at the end.

    TPU initialisation wipes the cores' memory, where a TPU strategy keeps the variables, so it must come
    before the restore. `begin()` runs in MonitoredSession's constructor before its session creator makes
    the session and restores the checkpoint; SessionManager's own call of the strategy's
    `_experimental_initialize_system()` happens only while the strategy's scope is open, which it is not
    when our sessions are created. `initialize`/`shutdown` are (target, ConfigProto) callables.
    """

    def __init__(self, target: str, config: v1.ConfigProto, *, initialize=None, shutdown=None):
        self._target, self._config = target, config
        self._initialize = initialize or initialize_tpu_system
        self._shutdown = shutdown or shutdown_tpu_system

    def begin(self):
        tf.get_logger().info("Initialising the TPU system (session target %r).", self._target)
        self._initialize(self._target, self._config)

    def end(self, session):
        self._shutdown(self._target, self._config)


def _with_tpu_system(strategy: Any, master: str, proto: v1.ConfigProto, hooks: Sequence) -> tuple[str, list]:
    """On a TPU strategy: the resolver's session target, and a TPUSystemHook after the other hooks."""
    # Imported here: estimator_lib.tpu imports the estimator, which imports this module.
    from estimator_lib.tpu import replication

    hooks = list(hooks)
    if not replication.is_tpu_strategy(strategy) or any(isinstance(h, TPUSystemHook) for h in hooks):
        return master, hooks
    target = replication.session_target(strategy)
    return target, hooks + [TPUSystemHook(target, proto)]


def tpu_system_hooks(strategy: Any, config: RunConfig) -> list:
    """[TPUSystemHook] for a TPU strategy, for sessions made without the strategy (predict); else []."""
    proto = graph_mode.session_config(strategy, session_config(config))
    return _with_tpu_system(strategy, "", proto, [])[1]


def plain_session(config: RunConfig) -> v1.Session:
    return v1.Session(config=session_config(config))


def post_step_global_step_read(global_step: tf.Variable, train_op) -> tf.Tensor:
    """A read of the global step that runs after train_op, for our own hooks to fetch with it.

    TensorFlow's StepCounterHook reads the step with no ordering against the train op and so warns
    "global step has not been increased" at random; our progress hook uses this read instead. It is
    not put in TF's cached-read collection: CheckpointSaverHook fetches that at session creation, which
    would run a training step."""
    with tf.control_dependencies([train_op]):
        return tf.identity(global_step.read_value(), name="global_step_after_run")
