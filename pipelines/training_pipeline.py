"""The training pipeline: train -> evaluate -> gate on a metric -> export -> batch predict.

`build_training_pipeline(target)` returns the KFP pipeline for a target:
- `local`: every step a lightweight component (runs on kfp.local's subprocess runner, or on Vertex on CPUs);
- `gpu`: the train step asks Vertex for accelerators;
- `tpu`: training runs as a Vertex CustomJob on TPU VMs (google-cloud-pipeline-components'
  CustomTrainingJobOp with explicit worker pool specs); the other steps run on CPUs.
"""


import json
from typing import Optional

from kfp import dsl
from kfp.dsl import Model

from components import images
from components._model_ref import EXAMPLE_MODEL
from components.evaluate import component as evaluate_component
from components.export import component as export_component
from components.gate_report import component as gate_report_component
from components.predict import component as predict_component
from components.tpu_train_job import component as tpu_train_job_component
from components.train import component as train_component
from pipelines.placement import GpuPlacement, TpuPlacement, check_target

PIPELINE_NAMES = {"local": "estimator-training", "gpu": "estimator-training-gpu", "tpu": "estimator-training-tpu"}
DEFAULT_PARAMS = {"hidden_units": [16, 16], "learning_rate": 0.1, "n_examples": 512, "seed": 7}
DEFAULT_PARAMS_JSON = json.dumps(DEFAULT_PARAMS)


def build_training_pipeline(
    target: str = "local",
    *,
    image: str = images.DEFAULT_IMAGE,
    gpu: Optional[GpuPlacement] = None,
    tpu: Optional[TpuPlacement] = None,
    cache_training: bool = False,
    train_retries: int = 2,
    resume: bool = False,
):
    """Returns the pipeline for `target`.

    cache_training=False (the default) always re-runs training: KFP's cache key covers the step's inputs
    (model reference, params, steps, data paths, image) but not what they point at (new files under the same
    data path, new code behind the same model reference), so a cached training step could silently reuse an
    old model. Downstream steps keep caching: their input is the new checkpoint, so they re-run anyway.
    resume=True adds `init_model_uri` / `init_mode` parameters: training starts from that checkpoint
    directory (brought in with dsl.importer).
    """
    check_target(target)
    images.check_image(image)
    if isinstance(train_retries, bool) or not isinstance(train_retries, int) or train_retries < 0:
        raise ValueError(f"train_retries must be an integer >= 0; received train_retries={train_retries!r}.")
    gpu = gpu or GpuPlacement()
    tpu = tpu or TpuPlacement()
    train_op = train_component.build(image)
    evaluate_op = evaluate_component.build(image)
    export_op = export_component.build(image)
    predict_op = predict_component.build(image)
    gate_report_op = gate_report_component.build(image)
    tpu_train_job_op = tpu_train_job_component.build(image)

    def add_training(p: dict, init_model=None):
        """Adds the training step(s) for the target; returns (the checkpoint Model channel, last task)."""
        if target == "tpu":
            from google_cloud_pipeline_components.v1.custom_job import CustomTrainingJobOp

            plan = tpu_train_job_op(
                model_ref=p["model_ref"], params_json=p["params_json"], input_fn_ref=p["input_fn_ref"],
                train_steps=p["train_steps"], train_batch_size=p["train_batch_size"], train_data=p["train_data"],
                tf_random_seed=p["tf_random_seed"], tpu_image=tpu.tpu_image, machine_type=tpu.machine_type,
                tpu_topology=tpu.tpu_topology, replica_count=tpu.replica_count, accelerator_type=tpu.accelerator_type,
                iterations_per_loop=tpu.iterations_per_loop,
                save_checkpoints_secs=p["save_checkpoints_secs"],
                **({"init_model": init_model, "init_mode": p["init_mode"]} if init_model is not None else {}),
            ).set_display_name("plan-tpu-training")
            # Each run must get a new checkpoint directory, so the planner never reuses a cached one.
            plan.set_caching_options(False)
            job = CustomTrainingJobOp(
                display_name="estimator-tpu-training",
                worker_pool_specs=plan.outputs["worker_pool_specs"],
            ).set_display_name("train-on-tpu")
            job.set_caching_options(False)
            job.set_retry(num_retries=train_retries, backoff_duration="60s", backoff_factor=2.0)
            return plan.outputs["model"], job
        task = train_op(
            model_ref=p["model_ref"], params_json=p["params_json"], input_fn_ref=p["input_fn_ref"],
            train_steps=p["train_steps"], train_batch_size=p["train_batch_size"], train_data=p["train_data"],
            tf_random_seed=p["tf_random_seed"], log_step_count_steps=p["log_step_count_steps"],
            save_checkpoints_secs=p["save_checkpoints_secs"],
            **({"init_model": init_model, "init_mode": p["init_mode"]} if init_model is not None else {}),
        ).set_display_name("train")
        task.set_caching_options(cache_training)
        task.set_retry(num_retries=train_retries, backoff_duration="30s", backoff_factor=2.0)
        if target == "gpu":
            task.set_accelerator_type(gpu.accelerator_type).set_accelerator_limit(gpu.accelerator_count)
            task.set_cpu_limit(gpu.cpu_limit).set_memory_limit(gpu.memory_limit)
        return task.outputs["model"], task

    def add_rest(p: dict, model, after) -> None:
        evaluation = evaluate_op(
            model_ref=p["model_ref"], model=model, params_json=p["params_json"], input_fn_ref=p["input_fn_ref"],
            eval_steps=p["eval_steps"], eval_batch_size=p["eval_batch_size"], eval_data=p["eval_data"],
            gate_metric=p["gate_metric"], class_key=p["class_key"], class_names=p["class_names"],
        ).set_display_name("evaluate")
        if after is not None:
            evaluation.after(after)
        gate_value = evaluation.outputs["gate_value"]
        with dsl.If(gate_value >= p["threshold"], name="metric-passes-threshold"):
            exported = export_op(
                model_ref=p["model_ref"], model=model, params_json=p["params_json"],
                serving_input_fn_ref=p["serving_input_fn_ref"],
            ).set_display_name("export")
            predict_op(
                model_ref=p["model_ref"], model=model, params_json=p["params_json"], input_fn_ref=p["input_fn_ref"],
                predict_batch_size=p["predict_batch_size"], predict_data=p["predict_data"],
                output_format=p["output_format"], max_predictions=p["max_predictions"],
            ).set_display_name("batch-predict").after(exported)
            gate_report_op(metric=p["gate_metric"], value=gate_value, threshold=p["threshold"], passed=True
                           ).set_display_name("gate-passed")
        with dsl.Else(name="metric-below-threshold"):
            gate_report_op(metric=p["gate_metric"], value=gate_value, threshold=p["threshold"], passed=False
                           ).set_display_name("gate-failed")

    description = f"Estimator training pipeline ({target}): train, evaluate, gate, export, batch predict."
    if resume:

        @dsl.pipeline(name=PIPELINE_NAMES[target] + "-resume", description=description)
        def training_pipeline_resume(
            init_model_uri: str,
            init_mode: str = "resume",
            model_ref: str = EXAMPLE_MODEL,
            params_json: str = DEFAULT_PARAMS_JSON,
            input_fn_ref: str = "",
            serving_input_fn_ref: str = "",
            train_steps: int = 300,
            train_batch_size: int = 32,
            eval_steps: int = 0,
            eval_batch_size: int = 64,
            predict_batch_size: int = 64,
            train_data: str = "",
            eval_data: str = "",
            predict_data: str = "",
            gate_metric: str = "accuracy",
            threshold: float = 0.8,
            class_key: str = "",
            class_names: str = "",
            max_predictions: int = 100,
            output_format: str = "jsonl",
            tf_random_seed: int = 42,
            log_step_count_steps: int = 50,
            save_checkpoints_secs: int = 120,
        ):
            p = dict(locals())
            initial = dsl.importer(artifact_uri=init_model_uri, artifact_class=Model, reimport=False)
            model, after = add_training(p, init_model=initial.output)
            add_rest(p, model, after if target == "tpu" else None)

        return training_pipeline_resume

    @dsl.pipeline(name=PIPELINE_NAMES[target], description=description)
    def training_pipeline(
        model_ref: str = EXAMPLE_MODEL,
        params_json: str = DEFAULT_PARAMS_JSON,
        input_fn_ref: str = "",
        serving_input_fn_ref: str = "",
        train_steps: int = 300,
        train_batch_size: int = 32,
        eval_steps: int = 0,
        eval_batch_size: int = 64,
        predict_batch_size: int = 64,
        train_data: str = "",
        eval_data: str = "",
        predict_data: str = "",
        gate_metric: str = "accuracy",
        threshold: float = 0.8,
        class_key: str = "",
        class_names: str = "",
        max_predictions: int = 100,
        output_format: str = "jsonl",
        tf_random_seed: int = 42,
        log_step_count_steps: int = 50,
        save_checkpoints_secs: int = 120,
    ):
        p = dict(locals())
        model, after = add_training(p)
        add_rest(p, model, after if target == "tpu" else None)

    return training_pipeline


def compile_pipeline(target: str, package_path: str, **options) -> str:
    """Compiles the target's pipeline to YAML at package_path and returns the path."""
    from kfp import compiler

    if not isinstance(package_path, str) or not package_path.endswith((".yaml", ".yml", ".json")):
        raise ValueError(f"package_path must end with .yaml (or .json); received package_path={package_path!r}.")
    compiler.Compiler().compile(pipeline_func=build_training_pipeline(target, **options), package_path=package_path)
    return package_path
