"""The training pipeline: train -> evaluate -> gate on a metric -> export -> batch predict.

`build_training_pipeline(target)` returns the KFP pipeline for a target:
- `local`: every step a lightweight component (runs on kfp.local's subprocess runner, or on Vertex on CPUs);
- `gpu` / `tpu`: the train component runs as a Vertex CustomJob on GPU machines / TPU VMs
  (pipelines.training_job), with the pipeline's service account, network, CMEK key, labels and a
  base output directory under the pipeline root; the other steps run on CPUs.
"""

import dataclasses
import inspect
import json

from kfp import dsl
from kfp.dsl import Model

from ..components import images
from ..components._model_ref import EXAMPLE_MODEL
from ..components.evaluate import component as evaluate_component
from ..components.export import component as export_component
from ..components.gate_report import component as gate_report_component
from ..components.predict import component as predict_component
from ..components.register import component as register_component
from ..components.train import component as train_component
from . import serving, tpu_machines, training_job
from .placement import (
    GpuPlacement,
    TpuPlacement,
    check_target,
    reservation_affinity,
    step_resources,
)

PIPELINE_NAMES = {"local": "estimator-training", "gpu": "estimator-training-gpu", "tpu": "estimator-training-tpu"}
DEFAULT_PARAMS = {"hidden_units": [16, 16], "learning_rate": 0.1, "n_examples": 512, "seed": 7}
DEFAULT_PARAMS_JSON = json.dumps(DEFAULT_PARAMS)
# (name, type, default) of the parameters every target's pipeline takes.
STEP_PARAMETERS = [
    ("model_ref", str, EXAMPLE_MODEL), ("params_json", str, DEFAULT_PARAMS_JSON), ("input_fn_ref", str, ""),
    ("serving_input_fn_ref", str, ""), ("train_steps", int, 300), ("train_batch_size", int, 32),
    ("eval_steps", int, 0), ("eval_batch_size", int, 64), ("predict_batch_size", int, 64),
    ("train_data", str, ""), ("eval_data", str, ""), ("predict_data", str, ""), ("gate_metric", str, "accuracy"),
    ("threshold", float, 0.8), ("class_key", str, ""), ("class_names", str, ""), ("max_predictions", int, 100),
    ("output_format", str, "jsonl"), ("tf_random_seed", int, 42), ("log_step_count_steps", int, 50),
    # Preemptible capacity (spot TPUs, Vertex restarts): a checkpoint at most this many seconds old is lost.
    ("save_checkpoints_secs", int, 120),
]
# The training CustomJob's labels and scheduling (gpu and tpu targets); submit's flags fill them.
JOB_PARAMETERS = [
    ("job_labels", dict, {}), ("scheduling_strategy", str, "STANDARD"),
    ("job_timeout", str, training_job.DEFAULT_TIMEOUT), ("max_wait_duration", str, training_job.DEFAULT_MAX_WAIT),
    ("restart_job_on_worker_restart", bool, False), ("tensorboard", str, ""),
]
# The default of `save_checkpoints_steps`, a parameter of multi-node GPU pipelines only.
MULTI_WORKER_SAVE_STEPS = 100


@dataclasses.dataclass(frozen=True)
class PipelinePlan:
    """The compile-time choices of one pipeline: where training runs, how it retries, which steps it has."""

    target: str
    image: str
    gpu: GpuPlacement
    tpu: TpuPlacement
    cache_training: bool
    train_retries: int
    resume: bool
    limits: dict
    register_model: bool
    vertex_batch_predict: bool
    deploy_endpoint: bool = False

    @property
    def training_image(self) -> str:
        return {"local": self.image, "gpu": self.gpu.gpu_image, "tpu": self.tpu.tpu_image}[self.target]

    def sized(self, task, step: str):
        """The task with the CPU and memory limits of `step`."""
        cpu, memory = self.limits[step]
        return task.set_cpu_limit(cpu).set_memory_limit(memory)


def build_training_pipeline(
    target: str = "local",
    *,
    image: str = images.DEFAULT_IMAGE,
    gpu: GpuPlacement | None = None,
    tpu: TpuPlacement | None = None,
    cache_training: bool = False,
    train_retries: int = 2,
    resume: bool = False,
    resources: dict | None = None,
    register_model: bool = False,
    vertex_batch_predict: bool = False,
    deploy_endpoint: bool = False,
):
    """Returns the pipeline for `target`.

    cache_training=False (the default) always re-runs training: KFP's cache key covers the step's inputs
    (model reference, params, steps, data paths, image) but not what they point at (new files under the same
    data path, new code behind the same model reference), so a cached training step could silently reuse an
    old model. Downstream steps keep caching: their input is the new checkpoint, so they re-run anyway.
    resume=True adds `init_model_uri` / `init_mode` parameters: training starts from that checkpoint
    directory (brought in with dsl.importer). resources: step name -> (cpu_limit, memory_limit) overriding
    placement.DEFAULT_STEP_RESOURCES. register_model=True uploads the exported SavedModel to the Vertex Model
    Registry (pipelines.serving); vertex_batch_predict=True also runs a Vertex batch prediction job on it;
    deploy_endpoint=True creates a Vertex endpoint and deploys the uploaded model on it.
    """
    check_target(target)
    images.check_image(image)
    if isinstance(train_retries, bool) or not isinstance(train_retries, int) or train_retries < 0:
        raise ValueError(f"train_retries must be an integer >= 0; received train_retries={train_retries!r}.")
    plan = PipelinePlan(
        target=target, image=image, gpu=gpu or GpuPlacement(), tpu=tpu or TpuPlacement(),
        cache_training=cache_training, train_retries=train_retries, resume=resume, limits=step_resources(resources),
        register_model=register_model or vertex_batch_predict or deploy_endpoint,
        vertex_batch_predict=vertex_batch_predict, deploy_endpoint=deploy_endpoint,
    )
    signature = pipeline_signature(plan)

    def training_pipeline(*args, **kwargs):
        p = signature.bind(*args, **kwargs).arguments
        initial = None
        if resume:
            initial = dsl.importer(artifact_uri=p["init_model_uri"], artifact_class=Model, reimport=False).output
        _add_evaluation_and_gate(plan, p, _add_training(plan, p, init_model=initial).outputs["model"])

    training_pipeline.__signature__ = signature
    training_pipeline.__annotations__ = {name: value.annotation for name, value in signature.parameters.items()}
    training_pipeline.__name__ = training_pipeline.__qualname__ = "training_pipeline" + ("_resume" if resume else "")
    name = PIPELINE_NAMES[target] + ("-resume" if resume else "")
    description = f"Estimator training pipeline ({target}): train, evaluate, gate, export, batch predict."
    return dsl.pipeline(name=name, description=description)(training_pipeline)


def pipeline_signature(plan: PipelinePlan) -> inspect.Signature:
    """The pipeline parameters: the step inputs, plus the training job's placement and identity on Vertex."""
    parameters = list(STEP_PARAMETERS)
    if plan.resume:
        parameters = [("init_model_uri", str, inspect.Parameter.empty), ("init_mode", str, "resume")] + parameters
    if plan.target == "gpu":
        parameters += [("training_image", str, plan.training_image), ("machine_type", str, plan.gpu.machine_type),
                       ("accelerator_type", str, plan.gpu.accelerator_type)]
        if plan.gpu.workers:  # collective training saves on every task at the same step: no time-based saves
            parameters += [("save_checkpoints_steps", int, MULTI_WORKER_SAVE_STEPS)]
    if plan.target == "tpu":
        parameters += [("training_image", str, plan.training_image),
                       ("iterations_per_loop", int, plan.tpu.iterations_per_loop)]
        if plan.tpu.runtime_machine:
            parameters += [("machine_type", str, plan.tpu.machine_type), ("tpu_topology", str, plan.tpu.tpu_topology)]
    if plan.target != "local":
        parameters += JOB_PARAMETERS
    if plan.target == "gpu" and plan.gpu.workers:
        # Collective training cannot lose a task: a replica Vertex restarts alone would leave the others
        # waiting in an all-reduce, so by default the whole job restarts (from the shared checkpoints).
        parameters = [(name, kind, True if name == "restart_job_on_worker_restart" else default)
                      for name, kind, default in parameters]
    if plan.register_model:
        parameters += serving.REGISTRY_PARAMETERS
    if plan.vertex_batch_predict:
        parameters += serving.BATCH_PREDICT_PARAMETERS
    if plan.deploy_endpoint:
        parameters += serving.ENDPOINT_PARAMETERS
    return inspect.Signature([
        inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation, default=default)
        for name, annotation, default in parameters
    ])


def _add_training(plan: PipelinePlan, p: dict, init_model=None):
    """Adds the training step for the target; returns it (its `model` output is the checkpoint)."""
    train_inputs = dict(
        model_ref=p["model_ref"], params_json=p["params_json"], input_fn_ref=p["input_fn_ref"],
        train_steps=p["train_steps"], train_batch_size=p["train_batch_size"], train_data=p["train_data"],
        tf_random_seed=p["tf_random_seed"], log_step_count_steps=p["log_step_count_steps"],
        save_checkpoints_secs=p["save_checkpoints_secs"],
        **({"init_model": init_model, "init_mode": p["init_mode"]} if init_model is not None else {}),
    )
    if plan.target == "local":
        task = plan.sized(train_component.build(plan.image)(**train_inputs), "train")
    else:
        task = _add_training_job(plan, p, train_inputs)
    task.set_display_name("train")
    task.set_caching_options(plan.cache_training)
    backoff = "30s" if plan.target == "local" else "60s"
    task.set_retry(num_retries=plan.train_retries, backoff_duration=backoff, backoff_factor=2.0)
    return task


def _add_evaluation_and_gate(plan: PipelinePlan, p: dict, model) -> None:
    """Evaluate, then export, batch-predict (and register) when the gate metric passes the threshold."""
    image, sized = plan.image, plan.sized
    gate_report_op = gate_report_component.build(image)
    evaluation = evaluate_component.build(image)(
        model_ref=p["model_ref"], model=model, params_json=p["params_json"], input_fn_ref=p["input_fn_ref"],
        eval_steps=p["eval_steps"], eval_batch_size=p["eval_batch_size"], eval_data=p["eval_data"],
        gate_metric=p["gate_metric"], class_key=p["class_key"], class_names=p["class_names"],
    ).set_display_name("evaluate")
    sized(evaluation, "evaluate")
    gate_value = evaluation.outputs["gate_value"]
    with dsl.If(gate_value >= p["threshold"], name="metric-passes-threshold"):
        exported = sized(export_component.build(image)(
            model_ref=p["model_ref"], model=model, params_json=p["params_json"],
            serving_input_fn_ref=p["serving_input_fn_ref"],
        ).set_display_name("export"), "export")
        sized(predict_component.build(image)(
            model_ref=p["model_ref"], model=model, params_json=p["params_json"], input_fn_ref=p["input_fn_ref"],
            predict_batch_size=p["predict_batch_size"], predict_data=p["predict_data"],
            output_format=p["output_format"], max_predictions=p["max_predictions"],
        ).set_display_name("batch-predict").after(exported), "predict")
        if plan.register_model:
            serving.add_serving(p, exported.outputs["saved_model"], register_op=register_component.build(image),
                                batch_predict=plan.vertex_batch_predict, deploy_endpoint=plan.deploy_endpoint)
        sized(gate_report_op(metric=p["gate_metric"], value=gate_value, threshold=p["threshold"], passed=True
                             ).set_display_name("gate-passed"), "gate-report")
    with dsl.Else(name="metric-below-threshold"):
        sized(gate_report_op(metric=p["gate_metric"], value=gate_value, threshold=p["threshold"], passed=False
                             ).set_display_name("gate-failed"), "gate-report")


def _add_training_job(plan: PipelinePlan, p: dict, train_inputs: dict):
    """The train component as a Vertex CustomJob on the target's machines, with the pipeline's identity."""
    target, gpu, tpu = plan.target, plan.gpu, plan.tpu
    job_op = training_job.training_job_op(train_component.build(plan.training_image),
                                          display_name=f"estimator-training-{target}")
    workers = 0
    if target == "tpu":
        placement, machine = tpu, tpu.machine()
        if tpu.runtime_machine:
            machine_spec = {"machine_type": p["machine_type"], "tpu_topology": p["tpu_topology"]}
            lineage = {"machine_type": p["machine_type"], "tpu_topology": p["tpu_topology"]}
        else:
            machine_spec = machine.machine_spec()
            lineage = {"machine_type": machine.machine_type, "accelerator_type": machine.accelerator_type,
                       "tpu_topology": machine.tpu_topology}
        extra = {"use_tpu": True, "iterations_per_loop": p["iterations_per_loop"], **lineage}
    else:
        # A count nested in the specs would reach the launcher as a string, which MachineSpec refuses
        # (int32 field): the count is compiled in (tests/pipelines/test_pipeline_custom_job.py shows it).
        placement, workers = gpu, gpu.workers
        machine_spec = {"machine_type": p["machine_type"], "accelerator_type": p["accelerator_type"],
                        "accelerator_count": gpu.accelerator_count}
        extra = {"machine_type": p["machine_type"], "accelerator_type": p["accelerator_type"]}
        if workers:
            extra["save_checkpoints_steps"] = p["save_checkpoints_steps"]
    affinity = reservation_affinity(placement.reservation)
    if affinity:
        machine_spec["reservation_affinity"] = affinity
    pools = training_job.worker_pool_specs(job_op, machine_spec=machine_spec, image=p["training_image"],
                                           disk=target != "tpu", workers=workers,
                                           env=tpu_machines.runtime_env(machine) if target == "tpu" else None)
    return job_op(
        worker_pool_specs=pools, labels=p["job_labels"], timeout=p["job_timeout"], strategy=p["scheduling_strategy"],
        max_wait_duration=p["max_wait_duration"], restart_job_on_worker_restart=p["restart_job_on_worker_restart"],
        tensorboard=p["tensorboard"], **extra, **train_inputs,
    )


def compile_pipeline(target: str, package_path: str, **options) -> str:
    """Compiles the target's pipeline to YAML at package_path and returns the path."""
    from kfp import compiler

    if not isinstance(package_path, str) or not package_path.endswith((".yaml", ".yml", ".json")):
        raise ValueError(f"package_path must end with .yaml (or .json); received package_path={package_path!r}.")
    compiler.Compiler().compile(pipeline_func=build_training_pipeline(target, **options), package_path=package_path)
    return package_path
