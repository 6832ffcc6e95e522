"""All tf.compat.v1 Graph / Session / Scaffold plumbing lives here.

The rest of the library asks for "a fresh graph", "a scaffold with our saver", "a training session" or
"an evaluation session" and never touches sessions itself.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import tensorflow as tf
from tensorflow.python.training import monitored_session as _tf_monitored
from tensorflow.python.training import saver as _tf_saver
from tensorflow.python.training import training_util as _tf_training_util

from estimator_lib import checkpoints, restore_check
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


def static_graph_config(proto: v1.ConfigProto) -> v1.ConfigProto:
    """A copy of `proto` that lets a local session treat its graph as static.

    Our monitored sessions start only after the scaffold has finalized the graph, so the session is
    never extended; `optimize_for_static_graph` lets the runtime drop the bookkeeping that extension
    needs (docs/benchmarks.md: a cheaper `session.run` on TF 2.21). A user who set
    `disable_optimize_for_static_graph` keeps that choice.
    """
    if proto.experimental.disable_optimize_for_static_graph:
        return proto
    static = v1.ConfigProto()
    static.CopyFrom(proto)
    static.experimental.optimize_for_static_graph = True
    return static


def xla_scope(config: RunConfig) -> contextlib.AbstractContextManager:
    """Where model_fn builds its training step: XLA-compiled when RunConfig(jit_compile=True).

    `jit_scope` marks every op the model_fn creates (forward, gradients, optimizer updates) for XLA on
    whatever device it lands (CPU included, without the process-wide auto-clustering flag); ops XLA
    has no kernel for (summaries, py_function, strings) stay outside the compiled clusters.
    """
    if not config.jit_compile:
        return contextlib.nullcontext()
    return tf.xla.experimental.jit_scope(compile_ops=True, separate_compiled_gradients=False)


class _WholeModelSaver(v1.train.Saver):
    """The Saver `make_saver` builds: over every global variable and saveable, so a restore by it either sets
    every variable or raises (what lets `_ready_checks_are_redundant` skip the Scaffold's checks)."""


def make_saver(config: RunConfig, var_list=None) -> v1.train.Saver:
    """The checkpoint saver: sharded, keeping `keep_checkpoint_max`, relative paths so model dirs can move."""
    saver_class = _WholeModelSaver if var_list is None else v1.train.Saver
    return saver_class(
        var_list=var_list,
        sharded=True,
        max_to_keep=config.keep_checkpoint_max,
        keep_checkpoint_every_n_hours=config.keep_checkpoint_every_n_hours,
        defer_build=True,
        save_relative_paths=True,
    )


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
    _cache_global_step_read()
    return scaffold


def _cache_global_step_read() -> None:
    """The global-step read TensorFlow's hooks share (CheckpointSaverHook, SummarySaverHook, StopAtStepHook ...).

    Left to them, the first hook's begin() builds it as a `tf.cond` on whether the step is initialised: two
    traced branch functions, 6 ms per training graph and 32 ms for the first cond of a process
    (docs/benchmarks.md). Those hooks read it only once the session exists and every variable is initialised,
    so a plain read does the same. One a user's code already made is kept.
    """
    graph = v1.get_default_graph()
    if graph.get_collection(_tf_training_util.GLOBAL_STEP_READ_KEY):
        return
    global_step = v1.train.get_global_step(graph)
    if global_step is None or not isinstance(global_step, tf.Variable):
        return
    with graph.name_scope(None), graph.name_scope(global_step.op.name + "/"):
        graph.add_to_collection(_tf_training_util.GLOBAL_STEP_READ_KEY, global_step.read_value() + 0)


# ---- evaluate() and predict(): sessions that only restore -------------------------------------------
class _RestoreOpsOnly(_tf_saver.BulkSaverBuilder):
    """Builds a Saver's restore ops and no save ops: an evaluate/predict graph never writes a checkpoint.

    TensorFlow builds both sets in graph mode; the save side (SaveV2, sharded names, the merge) is a
    quarter of the Saver's ops and about half its build time, paid on every evaluate()/predict() call.
    The save tensor becomes the filename itself, so the SaverDef stays well formed (it is never run:
    `_RestoreOnlySaver.save` refuses).
    """

    def _AddShardedSaveOps(self, filename_tensor, per_device):  # noqa: N802 - TensorFlow's method name
        return tf.identity(filename_tensor, name="no_save")

    def _AddSaveOps(self, filename_tensor, saveables):  # noqa: N802 - TensorFlow's method name
        return tf.identity(filename_tensor, name="no_save")


class _RestoreOnlySaver(_WholeModelSaver):
    """The Saver of evaluate() and predict() sessions: restores every variable, cannot save."""

    def save(self, sess, save_path, *args, **kwargs):
        raise ValueError(
            f"This Saver belongs to an evaluate() or predict() graph and only restores checkpoints; it cannot save "
            f"to {save_path!r}. To write checkpoints from an evaluation hook, create a tf.compat.v1.train.Saver "
            "in the hook's begin()."
        )


def make_restore_saver(config: RunConfig) -> v1.train.Saver:
    """A saver over every saveable variable, built with restore ops only (same sharding as `make_saver`)."""
    return _RestoreOnlySaver(
        sharded=True,
        max_to_keep=config.keep_checkpoint_max,
        keep_checkpoint_every_n_hours=config.keep_checkpoint_every_n_hours,
        defer_build=True,
        save_relative_paths=True,
        builder=_RestoreOpsOnly(),
    )


def finalize_restoring_scaffold(scaffold: v1.train.Scaffold, config: RunConfig) -> v1.train.Scaffold:
    """finalize_scaffold for evaluate() and predict(): our saver there restores only."""
    _drop_replica_copies()
    if scaffold.saver is None and not v1.get_collection(v1.GraphKeys.SAVERS):
        v1.add_to_collection(v1.GraphKeys.SAVERS, make_restore_saver(config))
    return scaffold


# What a Scaffold builds by default to initialise and check a session; a user's choice of any of them is kept.
_SCAFFOLD_OP_COLLECTIONS = (
    v1.GraphKeys.INIT_OP,
    v1.GraphKeys.READY_OP,
    v1.GraphKeys.READY_FOR_LOCAL_INIT_OP,
    v1.GraphKeys.LOCAL_INIT_OP,
    v1.GraphKeys.RESOURCES,  # shared resources: a restore does not initialise them, the ready check would catch it
)


def _ready_checks_are_redundant(scaffold: v1.train.Scaffold) -> bool:
    """True when the Scaffold's default readiness checks cannot fail after its default initialisation.

    The defaults are `report_uninitialized_variables` over the global (and then all) variables. When the
    session is initialised by our saver (training's, or evaluate/predict's restore-only one), which restores
    every global variable and saveable or raises, or by the default `global_variables_initializer` (no
    checkpoint), and the default local init op initialises every local variable, nothing can be left
    uninitialised: the checks only cost graph building and two session runs. Any user-set init/ready/local-init
    op, init_fn, shared resource or other saver keeps them. Only a chief decides this: other tasks wait on the
    ready op for the chief's initialisation and keep TensorFlow's session creators.
    """
    if v1.get_default_graph().finalized:
        return False  # a retried or recovered session creation: the scaffold is already finalized
    user_ops = (scaffold.init_op, scaffold.init_fn, scaffold.ready_op, scaffold.ready_for_local_init_op,
                scaffold.local_init_op)
    if any(op is not None for op in user_ops):
        return False
    if any(v1.get_collection(key) for key in _SCAFFOLD_OP_COLLECTIONS):
        return False
    savers = v1.get_collection(v1.GraphKeys.SAVERS)
    saver = scaffold.saver if scaffold.saver is not None else (savers[0] if len(savers) == 1 else None)
    return isinstance(saver, _WholeModelSaver)


class _ChiefSessionCreator(v1.train.SessionCreator):
    """TensorFlow's ChiefSessionCreator (train, evaluate, predict), without the Scaffold's redundant readiness checks.

    Whether they are redundant (`_ready_checks_are_redundant`) is decided on the first call, just before the
    scaffold is finalized: hooks' begin() (which may add ops) has run by then. When they are, the scaffold
    gets an empty "uninitialised" list instead of the default `report_uninitialized_variables` ops (never
    built), and the session manager runs no check at all (two session runs fewer, each a graph optimisation).
    """

    def __init__(self, *, scaffold: v1.train.Scaffold, master: str, config: v1.ConfigProto,
                 checkpoint_filename_with_path: str | None):
        self._scaffold, self._master, self._config = scaffold, master, config
        self._checkpoint = checkpoint_filename_with_path
        self._skip_ready_checks: bool | None = None

    def create_session(self):
        scaffold = self._scaffold
        if self._skip_ready_checks is None:
            self._skip_ready_checks = _ready_checks_are_redundant(scaffold)
            if self._skip_ready_checks:
                nothing_uninitialised = tf.constant([], dtype=tf.string, name="nothing_uninitialised")
                v1.add_to_collection(v1.GraphKeys.READY_OP, nothing_uninitialised)
                v1.add_to_collection(v1.GraphKeys.READY_FOR_LOCAL_INIT_OP, nothing_uninitialised)
        scaffold.finalize()
        skip = self._skip_ready_checks
        manager = v1.train.SessionManager(
            local_init_op=scaffold.local_init_op,
            local_init_feed_dict=scaffold.local_init_feed_dict,
            ready_op=None if skip else scaffold.ready_op,
            ready_for_local_init_op=None if skip else scaffold.ready_for_local_init_op,
            graph=v1.get_default_graph(),
        )
        return manager.prepare_session(
            self._master,
            saver=scaffold.saver,
            checkpoint_filename_with_path=self._checkpoint,
            config=self._config,
            init_op=scaffold.init_op,
            init_feed_dict=scaffold.init_feed_dict,
            init_fn=scaffold.init_fn,
        )


def training_session(
    *,
    scaffold: v1.train.Scaffold,
    config: RunConfig,
    model_dir: str,
    hooks: Sequence[v1.train.SessionRunHook],
    strategy: Any = None,
) -> v1.train.MonitoredSession:
    """A monitored session that restores the newest checkpoint in model_dir (chief) or waits for it.

    `hooks` are run in the order given (training_hooks.assemble decides it, chief policy included)."""
    master, is_chief = config.master, config.is_chief
    proto = graph_mode.session_config(strategy, session_config(config))
    multi = multi_worker.training_session_args(config.train_distribute, config, proto)
    if multi is None and not config.num_ps_replicas:
        master = ""  # no parameter servers and no collective strategy: this process trains on its own
    master, hooks = _with_tpu_system(strategy, master, proto, hooks)
    if multi is not None:  # collective multi-worker: every task initialises; non-chiefs mirror the chief's saves
        multi_worker.check_step_based_saving(config)
        master, is_chief, proto = multi["master"], multi["is_chief"], multi["config"]
    if is_chief:
        # Restore the newest complete checkpoint (checkpoints.latest_checkpoint), not whatever the state file
        # names last, so a save cut short by a crash cannot stop training from resuming.
        latest = checkpoints.latest_checkpoint(model_dir)
        local = _runs_in_process(master, strategy)
        if latest is not None:
            restore_check.check_shapes_match(latest)
        creator = _ChiefSessionCreator(
            scaffold=scaffold,
            master=master,
            config=static_graph_config(proto) if local else proto,
            checkpoint_filename_with_path=latest,
        )
        return _monitored_session(creator, list(hooks), local=local)
    return v1.train.MonitoredTrainingSession(
        master=master,
        is_chief=is_chief,
        checkpoint_dir=model_dir,
        scaffold=scaffold,
        hooks=list(hooks),
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
    local = _runs_in_process(master, strategy)

    def creator_for(path):
        if path is not None:
            restore_check.check_shapes_match(path)
        return _ChiefSessionCreator(
            scaffold=scaffold,
            master=master,
            config=static_graph_config(proto) if local else proto,
            checkpoint_filename_with_path=path,
        )

    if newest_in is not None and checkpoint_path is not None:
        creator = _NewestReadableSessionCreator(creator_for, checkpoint_path, newest_in)
    else:
        creator = creator_for(checkpoint_path)
    return _monitored_session(creator, list(hooks), local=local)


def _runs_in_process(master: str, strategy: Any) -> bool:
    """An in-process session that is not a TPU's: the callable run path and static-graph config apply.

    A remote master and a TPU session (target '' on a TPU VM too) keep TensorFlow's own run path."""
    if master:
        return False
    if strategy is None:  # no import of estimator_lib.tpu (about 70 ms) on a plain Estimator's first call
        return True
    from estimator_lib.tpu import replication

    return not replication.is_tpu_strategy(strategy)


def _monitored_session(creator, hooks: list, *, local: bool) -> v1.train.MonitoredSession:
    """Local sessions take the callable run path; sessions on a remote master keep TF's own."""
    session_class = _FastMonitoredSession if local else v1.train.MonitoredSession
    return session_class(session_creator=creator, hooks=hooks)


class _NewestReadableSessionCreator(v1.train.SessionCreator):
    """Restores `checkpoint`; when it vanished or broke before the restore read it, the newest readable one."""

    def __init__(self, creator_for, checkpoint: str, model_dir: str, attempts: int = 5):
        self._creator_for, self._checkpoint = creator_for, checkpoint
        self._model_dir, self._attempts = model_dir, attempts

    def create_session(self):
        from estimator_lib.storage.checkpoint_scan import checkpoint_problem

        tried = []
        while True:
            try:
                return self._creator_for(self._checkpoint).create_session()
            except (
                tf.errors.NotFoundError, tf.errors.DataLossError, tf.errors.InvalidArgumentError, ValueError
            ) as error:
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
    hooks = list(hooks)
    if strategy is None:  # a plain Estimator's session: no import of estimator_lib.tpu on its first call
        return master, hooks
    # Imported here: estimator_lib.tpu imports the estimator, which imports this module.
    from estimator_lib.tpu import replication

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


# ---- the per-run path of our monitored sessions -------------------------------------------------------
_MAX_CALLABLES = 16  # distinct fetch structures per session (hooks alternate between two or three)


class _Unsupported(Exception):
    """A fetch this module does not key callables by; the run goes through Session.run instead."""


def _fetch_key(fetches: Any) -> Any:
    """A hashable description of a fetch structure, or _Unsupported.

    Graph tensors and ops are keyed by id: they live as long as the graph, and so as long as the session
    and its callables. Containers are keyed by their exact type, so a namedtuple never matches a tuple.
    """
    if isinstance(fetches, (tf.Tensor, tf.Operation)):
        return id(fetches)
    if isinstance(fetches, str):
        return fetches
    kind = type(fetches)
    if kind is dict:
        return (dict,) + tuple((key, _fetch_key(value)) for key, value in fetches.items())
    if kind is list or kind is tuple:
        return (kind,) + tuple(_fetch_key(value) for value in fetches)
    raise _Unsupported


class _CallableHookedSession(_tf_monitored._HookedSession):  # noqa: SLF001 - TF's v1 class, frozen since 1.x
    """TensorFlow's hooked session, with each distinct fetch structure run through a `make_callable`.

    Hooks are called exactly as TF calls them (same order, same SessionRunContext/SessionRunValues).
    What changes is the run itself: `Session.run` re-parses the fetch structure and the executor key
    on every call; a callable does that once. Runs with feeds or RunOptions, and fetches of other kinds
    (variables, sparse tensors, namedtuples), keep going through `Session.run`.
    """

    def __init__(self, sess, hooks):
        super().__init__(sess, hooks)
        self._callables: dict = {}

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        if self.should_stop():
            raise RuntimeError("Run called even after should_stop requested.")
        actual_fetches = {"caller": fetches}
        run_context = v1.train.SessionRunContext(
            original_args=v1.train.SessionRunArgs(fetches, feed_dict), session=self._sess
        )
        run_options = options or v1.RunOptions()
        feeds = self._call_hook_before_run(run_context, actual_fetches, feed_dict, run_options)
        run_metadata = run_metadata or v1.RunMetadata()
        runner = None
        if not feeds and options is None and run_options.ByteSize() == 0:
            runner = self._callable_for(actual_fetches)
        if runner is not None:
            outputs = runner()
        else:
            outputs = self._sess.run(actual_fetches, feed_dict=feeds, options=run_options, run_metadata=run_metadata)
        for hook in self._hooks:
            hook.after_run(
                run_context,
                v1.train.SessionRunValues(
                    results=outputs.get(hook), options=run_options, run_metadata=run_metadata
                ),
            )
        self._should_stop = self._should_stop or run_context.stop_requested
        return outputs["caller"]

    def _callable_for(self, fetches: dict):
        try:
            key = _fetch_key(fetches)
        except _Unsupported:
            return None
        runner = self._callables.get(key)
        if runner is None and len(self._callables) < _MAX_CALLABLES:
            runner = self._callables[key] = self._sess.make_callable(fetches)
        return runner


class _FastMonitoredSession(v1.train.MonitoredSession):
    """MonitoredSession (recovery, coordinator, hooks: all TensorFlow's) over a _CallableHookedSession."""

    class _CoordinatedSessionCreator(v1.train.MonitoredSession._CoordinatedSessionCreator):  # noqa: SLF001
        def create_session(self):
            coordinated = super().create_session()
            coordinated._sess = _CallableHookedSession(self.tf_sess, self._hooks)  # noqa: SLF001
            return coordinated
