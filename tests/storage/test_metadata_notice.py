"""GCE's preemption notice, served by a real local metadata server, stops training like a SIGTERM: the step in
flight finishes, a checkpoint is saved, `train()` raises TrainingPreempted (exit 143), the next attempt resumes
from that step. Without a server (or with one that never answers) training neither waits nor fails.

Run with -s for the figures.
"""

from __future__ import annotations

import socket

import pytest
import tensorflow as tf
from _metadata_server import MetadataServer, spot_vm_values

import estimator_lib as est
from estimator_lib import metadata_notice
from estimator_lib.preemption import PREEMPTED_EXIT_CODE, TrainingPreempted
from estimator_lib.storage.checkpoint_scan import checkpoint_step, find_restorable_checkpoint

v1 = tf.compat.v1
RUNAWAY_STEPS = 20_000  # a watcher that never delivers the notice fails the test here instead of hanging it


@pytest.fixture
def metadata_server():
    server = MetadataServer(spot_vm_values())
    yield server
    server.close()


def _model_fn(features, labels, mode):
    w = v1.get_variable("w", [2, 1], initializer=v1.zeros_initializer())
    loss = tf.reduce_mean(tf.square(tf.matmul(features, w) - labels))
    train_op = v1.train.GradientDescentOptimizer(0.1).minimize(loss, v1.train.get_global_step())
    return est.EstimatorSpec(mode, loss=loss, train_op=train_op)


def _input_fn():
    return tf.data.Dataset.from_tensors((tf.ones([4, 2]), tf.ones([4, 1]))).repeat()


class _Steps(v1.train.SessionRunHook):
    """Records the global step after every run and calls `actions[step]()` once it is reached."""

    def __init__(self, actions=None):
        self.actions = dict(actions or {})
        self.steps: list[int] = []
        self.runaway = False

    def begin(self):
        self._global_step = v1.train.get_global_step()

    def after_run(self, run_context, run_values):
        step = int(run_context.session.run(self._global_step))
        self.steps.append(step)
        for at in sorted(self.actions):
            if step >= at:
                self.actions.pop(at)()
        if step >= RUNAWAY_STEPS:
            self.runaway = True
            run_context.request_stop()


def _estimator(model_dir):
    return est.Estimator(_model_fn, model_dir=model_dir,
                         config=est.RunConfig(save_checkpoints_steps=10_000, log_step_count_steps=None))


def _saved_step(model_dir) -> int:
    return checkpoint_step(find_restorable_checkpoint(model_dir))


def test_the_preempted_notice_saves_the_step_reached_exits_143_and_the_retry_resumes(metadata_server, tmp_path,
                                                                                     monkeypatch):
    monkeypatch.setenv(metadata_notice.URL_ENV, metadata_server.url)
    model_dir = str(tmp_path / "model")
    figures = []
    for flip_at in (1, 7, 30):
        metadata_server.set("instance/preempted", "FALSE")  # the restarted VM is not preempted
        steps = _Steps({flip_at: lambda: metadata_server.set("instance/preempted", "TRUE")})
        with pytest.raises(TrainingPreempted) as caught:
            _estimator(model_dir).train(_input_fn, hooks=[steps], max_steps=RUNAWAY_STEPS + 100)
        assert caught.value.code == PREEMPTED_EXIT_CODE
        assert not steps.runaway, "the watcher never delivered the notice"
        saved = _saved_step(model_dir)
        assert caught.value.global_step == saved
        if figures:
            assert steps.steps[0] == figures[-1]["saved"] + 1  # resumed where the previous attempt stopped
        figures.append({"notice_after_step": flip_at, "last_step_run": steps.steps[-1], "saved": saved,
                        "steps_lost": steps.steps[-1] - saved})
        assert saved == steps.steps[-1] >= flip_at, figures
    metadata_server.set("instance/preempted", "FALSE")
    steps = _Steps()
    _estimator(model_dir).train(_input_fn, hooks=[steps], max_steps=figures[-1]["saved"] + 5)
    assert steps.steps[0] == figures[-1]["saved"] + 1 and _saved_step(model_dir) == figures[-1]["saved"] + 5
    preempted_queries = [query for key, query in metadata_server.requests if key == "instance/preempted"]
    assert any(query.get("wait_for_change") == "true" and query.get("last_etag") for query in preempted_queries)
    print("\nMETADATA NOTICE FIGURES", *figures, sep="\n")


def test_a_live_migration_notice_is_ignored_and_a_terminating_maintenance_stops(metadata_server, tmp_path,
                                                                                monkeypatch):
    monkeypatch.setenv(metadata_notice.URL_ENV, metadata_server.url)
    key = "instance/maintenance-event"

    def migrate():
        metadata_server.set(key, "MIGRATE_ON_HOST_MAINTENANCE")
        # The watcher read the new value and asked again: it has decided to keep training.
        assert metadata_server.wait_until_asked_again(key, "MIGRATE_ON_HOST_MAINTENANCE")

    steps = _Steps({3: migrate, 12: lambda: metadata_server.set(key, "TERMINATE_ON_HOST_MAINTENANCE")})
    model_dir = str(tmp_path / "model")
    with pytest.raises(TrainingPreempted):
        _estimator(model_dir).train(_input_fn, hooks=[steps], max_steps=RUNAWAY_STEPS + 100)
    assert ("instance/maintenance-event", "MIGRATE_ON_HOST_MAINTENANCE") in metadata_server.served
    assert not steps.runaway
    assert _saved_step(model_dir) == steps.steps[-1] >= 12


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_no_metadata_server_neither_delays_nor_fails_training(tmp_path, monkeypatch):
    monkeypatch.setenv(metadata_notice.URL_ENV, _closed_port_url())  # connection refused on every request
    _estimator(str(tmp_path / "refused")).train(_input_fn, max_steps=20)
    assert _saved_step(str(tmp_path / "refused")) == 20
    hung = MetadataServer(spot_vm_values(), answer=False)  # accepts requests and never answers
    try:
        monkeypatch.setenv(metadata_notice.URL_ENV, hung.url)
        _estimator(str(tmp_path / "hung")).train(_input_fn, max_steps=20)
        assert _saved_step(str(tmp_path / "hung")) == 20  # trained to the end while the requests still hang
        assert any(key == "instance/preempted" for key, _ in hung.requests)
    finally:
        hung.close()


def test_the_watcher_runs_only_on_gce_or_where_it_is_pointed(tmp_path):
    gce = tmp_path / "gce"
    gce.write_text("Google Compute Engine\n")
    other = tmp_path / "other"
    other.write_text("Standard PC (Q35 + ICH9, 2009)\n")
    assert metadata_notice.metadata_url({}, product_name_file=str(gce)) == "http://metadata.google.internal"
    assert metadata_notice.metadata_url({}, product_name_file=str(other)) is None
    assert metadata_notice.metadata_url({}, product_name_file=str(tmp_path / "missing")) is None
    assert metadata_notice.metadata_url({metadata_notice.URL_ENV: "off"}, product_name_file=str(gce)) is None
    assert metadata_notice.metadata_url({metadata_notice.URL_ENV: "http://127.0.0.1:9/"}) == "http://127.0.0.1:9"


@pytest.mark.parametrize("value", ["127.0.0.1:8080", "ftp://host", "http://host/?x=1", "http://"])
def test_a_bad_metadata_url_is_refused(value):
    with pytest.raises(ValueError, match=r"ESTIMATOR_LIB_METADATA_URL must be the base URL of a metadata server "
                                         r"such as http://127.0.0.1:8080 .*or 'off'; received"):
        metadata_notice.metadata_url({metadata_notice.URL_ENV: value})
