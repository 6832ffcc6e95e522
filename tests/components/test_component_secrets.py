"""A planted token never reaches artifacts, metadata, logs or error messages, and every URI a step or the CLI
takes goes through one validator (components._uris.check_uri)."""

import os
import subprocess
import sys

import pytest
from components_testlib import MODEL_REF, TINY_PARAMS_JSON
from estimator_kfp.components._uris import check_uri, redact_secrets
from estimator_kfp.components.export.task import run_export
from estimator_kfp.components.predict.task import run_predict
from estimator_kfp.components.train.task import TrainRequest, run_train
from estimator_kfp.pipelines import cli
from estimator_kfp.pipelines.training_pipeline import compile_pipeline

TOKEN = "ya29PLANTEDtoken0123456789"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET_URIS = [
    f"gs://oauth2accesstoken:{TOKEN}@my-bucket/data",
    f"gs://my-bucket/data?X-Goog-Signature={TOKEN}",
    f"gs://my-bucket/data?sig={TOKEN}&se=2030",
    f"gs:/user:{TOKEN}@my-bucket/data",
    f"user:{TOKEN}@my-bucket/data",
]


@pytest.mark.parametrize(
    "value, message",
    [
        ("gs://my-bucket/../../../../etc", r"contains a '\.\.' segment"),
        ("/gcs/my-bucket/../../etc", r"contains a '\.\.' segment.*outside its bucket"),
        (" gs://my-bucket/model", r"starts or ends with white space"),
        ("gs:/my-bucket/model", r"malformed scheme separator after 'gs'; write gs://bucket/path"),
        ("gs:my-bucket/model", r"malformed scheme separator"),
        ("gs:///my-bucket/model", r"malformed scheme separator"),
        ("gs://my-bucket/model#v2", r"query string or fragment"),
        ("gcs://my-bucket/model", r"unsupported scheme 'gcs'"),
        ("http://example.com/model", r"unsupported scheme 'http'"),
        ("gs://My_Bucket/model", r"invalid bucket name"),
        ("", r"is empty"),
        ("/tmp/model\n", r"white space"),
    ],
)
def test_bad_uris_are_refused_with_the_rule_and_the_fix(value, message):
    with pytest.raises(ValueError, match=message):
        check_uri(value, "model_dir")


@pytest.mark.parametrize("value", ["gs://my-bucket/model", "/tmp/model", "file:///tmp/model", "relative/model",
                                   "/gcs/my-bucket/pipeline_root/train/model"])
def test_good_uris_pass(value):
    assert check_uri(value, "model_dir") == value


def test_data_patterns_keep_wildcards_but_not_queries():
    assert check_uri("gs://my-bucket/train-??-of-*.tfrecord", "train_data", allow_glob=True)
    with pytest.raises(ValueError, match=r"query string"):
        check_uri(f"gs://my-bucket/train-*.tfrecord?sig={TOKEN}", "train_data", allow_glob=True)


@pytest.mark.parametrize("secret", SECRET_URIS)
def test_credentials_are_refused_and_never_echoed(secret):
    with pytest.raises(ValueError) as caught:
        check_uri(secret, "train_data", allow_glob=True)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in redact_secrets(f"error: {secret} failed")


@pytest.mark.parametrize(
    "message",
    [
        "--label must look like name=value (e.g. key=team); received 'key=Team Lead': values are lower case.",
        "the tokenizer stopped at token=42 of 128 (sequence too long)",
        "threshold=0.5 and sig=3 are accepted; did you mean 'gs://my-bucket/model'?",
        "no file matches gs://my-bucket/train-??-of-*.tfrecord; is the pattern right?",
        "expected key=model_dir (a gs:// URI); received key=modelDir",
    ],
)
def test_a_normal_message_stays_readable(message):
    assert redact_secrets(message) == message


@pytest.mark.parametrize(
    "planted",
    [
        f"--label key={TOKEN}",
        f"request failed: token={TOKEN} expired",
        f"api_key={TOKEN}&alt=json",
        f"X-Goog-Credential={TOKEN}",
        "password=hunter2 rejected",
        "Authorization: Bearer ya29.a0AfH6SMB-planted_value",
        "the key AIzaSyA-planted0123456789abcdefghijklmnop is restricted",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq\n-----END PRIVATE KEY-----",
    ],
)
def test_a_planted_credential_is_hidden_and_the_rest_kept(planted):
    redacted = redact_secrets(f"error: {planted} (see the docs)")
    assert "<redacted>" in redacted
    for secret in (TOKEN, "hunter2", "ya29.a0AfH6SMB", "AIzaSyA", "MIIEvQIBADANBgkq"):
        assert secret not in redacted
    assert redacted.startswith("error: ") and redacted.endswith(" (see the docs)")


def _grep_tree(root, needle):
    hits = []
    for directory, _, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                if needle.encode() in handle.read():
                    hits.append(path)
    return hits


@pytest.mark.parametrize("secret", SECRET_URIS)
def test_steps_refuse_a_planted_token_before_writing_anything(secret, trained_model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    attempts = [
        lambda: run_train(TrainRequest(model_ref=MODEL_REF, output_model_dir=str(out / "m"), train_data=secret)),
        lambda: run_train(TrainRequest(model_ref=MODEL_REF, output_model_dir=secret)),
        lambda: run_train(TrainRequest(model_ref=MODEL_REF, output_model_dir=str(out / "m2"), init_model_dir=secret)),
        lambda: run_export(model_ref=MODEL_REF, model_dir=secret, output_dir=str(out / "e")),
        lambda: run_export(model_ref=MODEL_REF, model_dir=trained_model_dir, output_dir=secret,
                           params_json=TINY_PARAMS_JSON),
        lambda: run_predict(model_ref=MODEL_REF, model_dir=trained_model_dir, output_dir=str(out / "p"),
                            params_json=TINY_PARAMS_JSON, predict_data=secret),
    ]
    for attempt in attempts:
        with pytest.raises(ValueError) as caught:
            attempt()
        assert TOKEN not in str(caught.value)
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err
    assert not out.exists() or not _grep_tree(str(out), TOKEN)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return compile_pipeline("local", str(tmp_path_factory.mktemp("secrets") / "training.yaml"))


@pytest.mark.parametrize("secret", SECRET_URIS[:3])
def test_cli_refuses_a_planted_token_and_never_prints_it(secret, template, tmp_path, capsys):
    base = ["submit", "--template", template, "--project", "my-project", "--region", "us-central1", "--dry-run"]
    runs = [
        base + ["--pipeline-root", secret.replace("/data", "/root")],
        base + ["--pipeline-root", "gs://my-bucket/root", "--param", f"train_data={secret}"],
        ["run-local", "--pipeline-root", str(tmp_path / "root"), "--param", f"eval_data={secret}"],
        ["run-local", "--pipeline-root", str(tmp_path / "root"), "--init-model-uri", secret],
    ]
    for argv in runs:
        assert cli.main(argv) == 2, argv
        captured = capsys.readouterr()
        assert TOKEN not in captured.out + captured.err, argv
        assert "error:" in captured.err
    assert not (tmp_path / "root").exists() or not _grep_tree(str(tmp_path / "root"), TOKEN)


def test_train_task_process_with_a_planted_token_logs_nothing_of_it(tmp_path):
    python_path = REPO + os.pathsep + os.environ.get("PYTHONPATH", "")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": python_path}
    job = subprocess.run(
        [sys.executable, "-m", "estimator_kfp.components.train.task", "--model-ref", MODEL_REF,
         "--params-json", TINY_PARAMS_JSON, "--train-steps", "2", "--output-model-dir", str(tmp_path / "model"),
         "--train-data", SECRET_URIS[0]],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=240,
    )
    assert job.returncode != 0
    assert "carries user info or credentials" in job.stderr
    assert TOKEN not in job.stdout + job.stderr
    assert not _grep_tree(str(tmp_path), TOKEN)
