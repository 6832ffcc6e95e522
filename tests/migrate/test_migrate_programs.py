"""Programs written the way public TPUEstimator programs are (tests/migrate/programs: a BERT-style
fine-tune after google-research/bert, a ResNet-style trainer and input pipeline after tensorflow/tpu)
run after one `upgrade` pass and nothing else. Each run is a subprocess, as a user would start it; runs
on CPU replicas go through a small driver that builds the TPUEstimator with a MirroredStrategy (the one
thing a TPU program cannot say for itself) and otherwise calls the program's own functions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from estimator_lib.migrate.cli import main as upgrade

# Every test starts a Python process that trains a model (tens of seconds each on 2 cores).
pytestmark = pytest.mark.slow

v1 = tf.compat.v1
PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")
WORKTREE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TWO_CPUS = textwrap.dedent(
    """
    import tensorflow as tf
    _cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(_cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    """
)

BERT_CONFIG = {"vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
               "intermediate_size": 16, "max_position_embeddings": 16}
# The names (and shapes, for this config) a google-research/bert checkpoint holds for one layer.
_LAYER = "bert/encoder/layer_0"
BERT_VARIABLES = {
    "bert/embeddings/word_embeddings": [30, 8],
    "bert/embeddings/token_type_embeddings": [2, 8],
    "bert/embeddings/position_embeddings": [16, 8],
    "bert/embeddings/LayerNorm/beta": [8],
    "bert/embeddings/LayerNorm/gamma": [8],
    **{f"{_LAYER}/attention/self/{part}/kernel": [8, 8] for part in ("query", "key", "value")},
    **{f"{_LAYER}/attention/self/{part}/bias": [8] for part in ("query", "key", "value")},
    f"{_LAYER}/attention/output/dense/kernel": [8, 8],
    f"{_LAYER}/attention/output/dense/bias": [8],
    f"{_LAYER}/attention/output/LayerNorm/beta": [8],
    f"{_LAYER}/attention/output/LayerNorm/gamma": [8],
    f"{_LAYER}/intermediate/dense/kernel": [8, 16],
    f"{_LAYER}/intermediate/dense/bias": [16],
    f"{_LAYER}/output/dense/kernel": [16, 8],
    f"{_LAYER}/output/dense/bias": [8],
    f"{_LAYER}/output/LayerNorm/beta": [8],
    f"{_LAYER}/output/LayerNorm/gamma": [8],
    "bert/pooler/dense/kernel": [8, 8],
    "bert/pooler/dense/bias": [8],
}


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory):
    """`upgraded(name, tmp_path)`: a private copy of the program after one `upgrade` pass, in tmp_path.

    Each program is upgraded (and `--check`ed: nothing left to change or port) once per module, since the
    pass is deterministic and costs seconds of libcst work; every test then runs on its own copy, so the
    files one test writes next to the program (a driver, outputs) never reach another."""
    done: dict[str, str] = {}

    def copy_of(name: str, tmp_path) -> str:
        if name not in done:
            out = str(tmp_path_factory.mktemp("upgraded") / name)
            assert upgrade([os.path.join(PROGRAMS, name), "--output", out, "--quiet"]) == 0
            assert upgrade([out, "--check", "--quiet"]) == 0
            done[name] = out
        copy = str(tmp_path / name)
        shutil.copytree(done[name], copy)
        return copy

    return copy_of


def run(directory: str, args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([WORKTREE, directory]), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_USE_LEGACY_KERAS", None)
    result = subprocess.run([sys.executable, *args], cwd=directory, env=env, capture_output=True, text=True,
                            timeout=540)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def driver(directory: str, code: str, *args: str) -> dict:
    """Runs test code next to the upgraded program; its last stdout line is a JSON result."""
    path = os.path.join(directory, "_driver.py")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(TWO_CPUS + textwrap.dedent(code))
    return json.loads(run(directory, [path, *args]).stdout.strip().splitlines()[-1])


# ---- BERT ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def init_checkpoint(tmp_path_factory) -> str:
    """A 'pre-trained' checkpoint written with plain variables under BERT's names, not by our layers."""
    directory = tmp_path_factory.mktemp("pretrained")
    rng = np.random.default_rng(7)
    with tf.Graph().as_default():
        for name, shape in BERT_VARIABLES.items():
            v1.get_variable(name, initializer=rng.normal(size=shape).astype(np.float32))
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            return v1.train.Saver().save(session, str(directory / "bert_model.ckpt"))


def bert_config_file(tmp_path) -> str:
    path = tmp_path / "bert_config.json"
    path.write_text(json.dumps(BERT_CONFIG))
    return str(path)


def assert_initialised_from(model_dir: str, init_checkpoint: str) -> None:
    """learning_rate=0: every BERT variable still holds the pre-trained value after fine-tuning."""
    trained = tf.train.load_checkpoint(model_dir)
    pretrained = tf.train.load_checkpoint(init_checkpoint)
    bert_names = {name for name in trained.get_variable_to_shape_map() if name.startswith("bert/")
                  and "/adam" not in name.lower()}
    assert bert_names == set(BERT_VARIABLES)
    for name in BERT_VARIABLES:
        np.testing.assert_array_equal(trained.get_tensor(name), pretrained.get_tensor(name), err_msg=name)
    assert trained.get_tensor("global_step") == 4


@pytest.mark.parametrize("iterations_per_loop", [1, 2])
def test_bert_fine_tune_from_init_checkpoint(tmp_path, upgraded, init_checkpoint, iterations_per_loop):
    """use_tpu=False: BERT calls init_from_checkpoint in model_fn; then trains, evaluates, writes results."""
    program = upgraded("bert", tmp_path)
    output_dir = str(tmp_path / "output")
    run(program, ["run_classifier.py", f"--bert_config_file={bert_config_file(tmp_path)}",
                  f"--output_dir={output_dir}", f"--init_checkpoint={init_checkpoint}", "--learning_rate=0",
                  "--num_train_steps=4", f"--iterations_per_loop={iterations_per_loop}"])
    assert_initialised_from(output_dir, init_checkpoint)
    results = (tmp_path / "output" / "eval_results.txt").read_text()
    assert "eval_accuracy = " in results and "global_step = 4" in results


def test_bert_scaffold_fn_on_two_cpu_replicas(tmp_path, upgraded, init_checkpoint):
    """use_tpu=True (2 CPU replicas): init_from_checkpoint runs in scaffold_fn; CrossShardOptimizer wraps Adam.
    Both loop lengths (1 and 2 steps per session.run) run in one driver process, one model_dir each, which
    spares a second interpreter and TensorFlow start-up."""
    program = upgraded("bert", tmp_path)
    model_dirs = {loop: str(tmp_path / f"replicas_loop{loop}") for loop in (1, 2)}
    result = driver(program, f"""
        import json, os, sys
        import estimator_lib
        import modeling, run_classifier
        config = modeling.BertConfig.from_json_file({bert_config_file(tmp_path)!r})
        records = os.path.join({str(tmp_path)!r}, "train.tf_record")
        run_classifier.write_synthetic_examples(records, 32, 8, config.vocab_size)
        steps = {{}}
        for iterations_per_loop, model_dir in {model_dirs!r}.items():
            model_fn = run_classifier.model_fn_builder(config, 2, {init_checkpoint!r}, 0.0, use_tpu=True)
            run_config = estimator_lib.tpu.RunConfig(
                model_dir=model_dir,
                train_distribute=tf.compat.v1.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]),
                tpu_config=estimator_lib.tpu.TPUConfig(
                    iterations_per_loop=iterations_per_loop,
                    per_host_input_for_training=estimator_lib.tpu.InputPipelineConfig.PER_HOST_V2))
            estimator = estimator_lib.tpu.TPUEstimator(model_fn=model_fn, config=run_config, use_tpu=True,
                                                       train_batch_size=8, eval_batch_size=8)
            estimator.train(run_classifier.file_based_input_fn_builder(records, 8, True, True), max_steps=4)
            steps[iterations_per_loop] = int(estimator.get_variable_value("global_step"))
        print(json.dumps({{"steps": steps}}))
        """)
    assert result["steps"] == {"1": 4, "2": 4}
    for model_dir in model_dirs.values():
        assert_initialised_from(model_dir, init_checkpoint)


# ---- ResNet ----------------------------------------------------------------------------------------
def test_resnet_program_without_tpu(tmp_path, upgraded):
    """use_tpu=False: no params['context'], the input shards as one host; fused batch norm updates its
    moving statistics through UPDATE_OPS; TF1 variable names."""
    program = upgraded("resnet", tmp_path)
    model_dir = str(tmp_path / "model")
    out = run(program, ["resnet_main.py", f"--model_dir={model_dir}", "--train_steps=4", "--iterations_per_loop=2"])
    assert "Eval results" in out.stderr
    reader = tf.train.load_checkpoint(model_dir)
    names = set(reader.get_variable_to_shape_map())
    assert {"conv2d/kernel", "conv2d_1/kernel", "batch_normalization/gamma", "batch_normalization/moving_mean",
            "batch_normalization_1/moving_variance", "dense/kernel", "dense/bias"} <= names
    assert reader.get_tensor("global_step") == 4
    assert np.abs(reader.get_tensor("batch_normalization/moving_mean")).max() > 0  # updates ran


def test_resnet_input_fn_uses_the_context_on_cpu_replicas(tmp_path, upgraded):
    """use_tpu=True on 2 CPU replicas: imagenet_input reads params['context'].current_input_fn_deployment()
    and num_hosts to shard by host, as on a TPU host; train and evaluate run."""
    program = upgraded("resnet", tmp_path)
    result = driver(program, f"""
        import json
        import estimator_lib
        import imagenet_input, resnet_main
        resnet_main.FLAGS(["resnet_main", "--use_tpu=true"])
        seen = []

        class Recording(imagenet_input.ImageNetInput):
            def make_source_dataset(self, index, num_hosts):
                seen.append([index, num_hosts])
                return super(Recording, self).make_source_dataset(index, num_hosts)

        config = estimator_lib.tpu.RunConfig(
            model_dir={str(tmp_path / "model")!r},
            train_distribute=tf.compat.v1.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]),
            tpu_config=estimator_lib.tpu.TPUConfig(
                iterations_per_loop=2, per_host_input_for_training=estimator_lib.tpu.InputPipelineConfig.PER_HOST_V2))
        estimator = estimator_lib.tpu.TPUEstimator(model_fn=resnet_main.resnet_model_fn, config=config,
                                                   use_tpu=True, train_batch_size=16, eval_batch_size=16)
        estimator.train(Recording(is_training=True).input_fn, max_steps=4)
        metrics = estimator.evaluate(Recording(is_training=False).input_fn, steps=2)
        print(json.dumps({{"seen": seen, "step": int(metrics["global_step"]),
                           "accuracy": float(metrics["top_1_accuracy"])}}))
        """)
    assert result["seen"] == [[0, 1], [0, 1]]
    assert result["step"] == 4 and 0.0 <= result["accuracy"] <= 1.0


# ---- mnist_tpu -------------------------------------------------------------------------------------
def test_mnist_tpu_on_two_cpu_replicas(tmp_path, upgraded):
    """tf.layers objects keep mnist_tpu's variable names; tf.tpu.CrossShardOptimizer trains on replicas."""
    program = upgraded("mnist", tmp_path)
    model_dir = str(tmp_path / "model")
    result = driver(program, f"""
        import json
        import estimator_lib
        import mnist_tpu
        mnist_tpu.FLAGS(["mnist_tpu", "--use_tpu=true"])
        config = estimator_lib.tpu.RunConfig(
            model_dir={model_dir!r},
            train_distribute=tf.compat.v1.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]),
            tpu_config=estimator_lib.tpu.TPUConfig(2))
        estimator = estimator_lib.tpu.TPUEstimator(model_fn=mnist_tpu.model_fn, config=config, use_tpu=True,
                                                   train_batch_size=16)
        estimator.train(mnist_tpu.train_input_fn, max_steps=4)
        print(json.dumps({{"step": int(estimator.get_variable_value("global_step"))}}))
        """)
    assert result["step"] == 4
    names = set(tf.train.load_checkpoint(model_dir).get_variable_to_shape_map())
    expected = {"conv2d/kernel", "conv2d/bias", "conv2d_1/kernel", "dense/kernel", "dense_1/kernel", "dense_1/bias"}
    assert expected <= names
    assert not any(name.startswith(("conv2d_2", "dense_2")) for name in names)
