"""Artifact paths: gs:// URIs map to the Vertex GCS FUSE mount when it exists; JSON files appear whole."""

import json
import os

from estimator_kfp.components import _io


def test_gs_uris_stay_uris_without_a_fuse_mount(monkeypatch, tmp_path):
    monkeypatch.setattr(_io, "GCS_FUSE_ROOT", str(tmp_path / "no_mount_here"))
    assert _io.local_path("gs://bucket/run/model") == "gs://bucket/run/model"


def test_gs_uris_map_to_the_fuse_mount(monkeypatch, tmp_path):
    monkeypatch.setattr(_io, "GCS_FUSE_ROOT", str(tmp_path))
    assert _io.local_path("gs://bucket/run/model") == os.path.join(str(tmp_path), "bucket/run/model")
    assert _io.local_path("/already/local") == "/already/local"


def test_write_json_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "sub" / "config.json"
    _io.write_json(str(target), {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    assert os.listdir(tmp_path / "sub") == ["config.json"]


def test_copy_tree_copies_nested_files(tmp_path):
    source = tmp_path / "src"
    (source / "variables").mkdir(parents=True)
    (source / "saved_model.pb").write_bytes(b"pb")
    (source / "variables" / "variables.index").write_bytes(b"ix")
    _io.copy_tree(str(source), str(tmp_path / "dst"))
    assert (tmp_path / "dst" / "saved_model.pb").read_bytes() == b"pb"
    assert (tmp_path / "dst" / "variables" / "variables.index").read_bytes() == b"ix"
