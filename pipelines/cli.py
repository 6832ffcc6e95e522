"""`estimator-pipelines`: run the training pipeline locally, compile it, submit or schedule it on Vertex AI.

Every subcommand's --help shows an example. `run-local` is the main job.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .local_run import DEFAULT_PIPELINE_ROOT
from .training_job import STRATEGIES

_RUN_LOCAL_EXAMPLE = """example:
  estimator-pipelines run-local --train-steps 300 --threshold 0.9
  estimator-pipelines run-local --init-model-uri ./local_pipeline_root/<run>/train/model --train-steps 100
  estimator-pipelines run-local --model-ref my_pkg.my_model --params-json '{"learning_rate": 0.05}' \\
      --param train_data=/data/train.tfrecord --param eval_data=/data/eval.tfrecord
"""
_COMPILE_EXAMPLE = """example:
  estimator-pipelines compile --target tpu --tpu-machine-type ct5lp-hightpu-4t --tpu-topology 2x2 \\
      --tpu-image us-docker.pkg.dev/my-project/repo/estimator-lib-tpu:0.1.0 --output training-tpu.yaml
  estimator-pipelines compile --target gpu --accelerator-type NVIDIA_L4 --output training-gpu.yaml
  estimator-pipelines compile --target gpu --gpu-replicas 4 --output training-gpu-4.yaml  (a chief + 3 workers)
"""
_SUBMIT_EXAMPLE = """example:
  estimator-pipelines submit --template training-tpu.yaml --project my-project --region us-central1 \\
      --pipeline-root gs://my-bucket/pipeline_root --service-account trainer@my-project.iam.gserviceaccount.com \\
      --param model_ref=my_pkg.my_model --param train_steps=10000 --param threshold=0.9
      --strategy spot --label team=ml --encryption-key projects/my-project/locations/us-central1/keyRings/r/cryptoKeys/k
  (add --dry-run to print the request, and the training CustomJob it leads to, instead of sending it)
"""
_SCHEDULE_EXAMPLE = """example:
  estimator-pipelines schedule --template training-tpu.yaml --project my-project --region us-central1 \\
      --pipeline-root gs://my-bucket/pipeline_root --cron 'TZ=Europe/Paris 0 3 * * 1' \\
      --schedule-name weekly-retrain --param train_steps=10000
  (add --dry-run to print the request instead of sending it)
"""
_COMPONENTS_EXAMPLE = """example:
  estimator-pipelines components --output-dir components           (regenerate components/<name>/component.yaml)
  estimator-pipelines components --output-dir components --check   (exit 1 when they are stale)
"""
_UPGRADE_EXAMPLE = """example:
  estimator-pipelines upgrade --help     (options of the tf.estimator -> estimator_lib migration tool)
"""


def _add_vertex_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--template", required=True, help="compiled pipeline YAML (from `compile`)")
    parser.add_argument("--project", required=True, help="Google Cloud project id")
    parser.add_argument("--region", required=True, help="Vertex AI region, e.g. us-central1")
    parser.add_argument("--pipeline-root", required=True, help="gs:// URI where Vertex writes artifacts")
    parser.add_argument("--display-name", default=None)
    parser.add_argument("--service-account", default=None, help="service account the pipeline runs as")
    parser.add_argument("--network", default=None, help="VPC network, projects/NUMBER/global/networks/NAME")
    parser.add_argument("--encryption-key", default=None,
                        help="CMEK key for the pipeline and its training job, "
                             "projects/P/locations/L/keyRings/R/cryptoKeys/K")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="pipeline parameter (repeatable)")
    parser.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                        help="label of the pipeline job and of its training job (repeatable)")
    job = parser.add_argument_group("training CustomJob (gpu and tpu targets)")
    job.add_argument("--strategy", choices=sorted(STRATEGIES), default=None,
                     help="capacity: standard, spot (preemptible) or flex-start (waits up to --max-wait-duration)")
    job.add_argument("--timeout", default=None, help="longest training run, e.g. 86400s")
    job.add_argument("--max-wait-duration", default=None, help="flex-start: longest wait for capacity, e.g. 3600s")
    job.add_argument("--restart-job-on-worker-restart", action="store_true", default=None,
                     help="restart every worker when one restarts (multi-worker jobs)")
    job.add_argument("--tensorboard", default=None,
                     help="Vertex TensorBoard for the training logs, projects/P/locations/L/tensorboards/ID")
    caching = parser.add_mutually_exclusive_group()
    caching.add_argument("--enable-caching", dest="enable_caching", action="store_true", default=None,
                         help="cache every step, overriding the compiled options (training is compiled uncached)")
    caching.add_argument("--disable-caching", dest="enable_caching", action="store_false",
                         help="re-run every step")
    parser.add_argument("--allow-placeholder-image", action="store_true",
                        help="send a template whose steps use the placeholder image (they will fail at image pull)")
    parser.add_argument("--dry-run", action="store_true", help="print the request as JSON and send nothing")


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="estimator-pipelines",
        description="Estimator training pipelines: local runs, Vertex AI (GPU/TPU) compile, submit and schedule.",
        epilog="example:\n  estimator-pipelines run-local\n"
               "  estimator-pipelines compile --target tpu --output training-tpu.yaml",
        formatter_class=formatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    run_local = commands.add_parser("run-local", help="run the whole pipeline on this machine (kfp.local)",
                                    epilog=_RUN_LOCAL_EXAMPLE, formatter_class=formatter)
    run_local.add_argument("--pipeline-root", default=DEFAULT_PIPELINE_ROOT,
                           help="where artifacts go (default: %(default)s)")
    run_local.add_argument("--model-ref", default=None,
                           help="model module or module:model_fn (default: the bundled example)")
    run_local.add_argument("--params-json", default=None, help="JSON object handed to model_fn/input_fn as params")
    run_local.add_argument("--train-steps", type=int, default=None, help="training steps (pipeline default 300)")
    run_local.add_argument("--threshold", type=float, default=None, help="gate: export only if the metric >= this")
    run_local.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                           help="any pipeline parameter (repeatable)")
    run_local.add_argument("--train-retries", type=int, default=0,
                           help="retries of a failed training step (30 s back-off, doubling); default 0 locally")
    run_local.add_argument("--init-model-uri", default=None,
                           help="start from this checkpoint directory (imported with dsl.importer)")
    run_local.add_argument("--init-mode", choices=("resume", "warm_start"), default="resume",
                           help="resume: continue its training; warm_start: new run from its weights")
    run_local.add_argument("--summary-json", default=None, help="also write the run summary to this JSON file")

    compile_ = commands.add_parser("compile", help="compile the pipeline to YAML for Vertex AI",
                                   epilog=_COMPILE_EXAMPLE, formatter_class=formatter)
    compile_.add_argument("--target", choices=("local", "gpu", "tpu"), default="local",
                          help="local: CPU steps; gpu: accelerators on the train step; tpu: training as a TPU "
                               "CustomJob")
    compile_.add_argument("--output", default=None, help="YAML path (default: estimator-training-<target>.yaml)")
    compile_.add_argument("--image", default=None,
                          help="image of the component steps (default: components.images.DEFAULT_IMAGE)")
    compile_.add_argument("--tpu-image", default=None, help="image of the TPU training job")
    compile_.add_argument("--tpu-machine-type", default="ct5lp-hightpu-4t")
    compile_.add_argument("--tpu-topology", default="2x2", help="chips per dimension; required for TPU v5e")
    compile_.add_argument("--tpu-accelerator-type", default="",
                          help="TPU_V2 or TPU_V3 with --tpu-machine-type cloud-tpu")
    compile_.add_argument("--tpu-replicas", type=int, default=1, help="must be 1: one TPU VM host per job")
    compile_.add_argument("--iterations-per-loop", type=int, default=100)
    compile_.add_argument("--gpu-image", default=None, help="image of the GPU training job (built with TF_EXTRA=gpu)")
    compile_.add_argument("--machine-type", default="n1-standard-8", help="GPU target: machine of the training job")
    compile_.add_argument("--accelerator-type", default="NVIDIA_TESLA_T4")
    compile_.add_argument("--accelerator-count", type=int, default=1)
    compile_.add_argument("--gpu-replicas", type=int, default=1,
                          help="GPU target: machines of the training job, a chief plus N-1 workers (multi-node)")
    compile_.add_argument("--reservation", default="",
                          help="training job capacity: 'any', 'none' or projects/P/zones/Z/reservations/NAME")
    compile_.add_argument("--step-resources", action="append", default=[], metavar="STEP=CPU,MEMORY",
                          help="CPU and memory limits of a step, e.g. evaluate=8,32G (repeatable; steps: train, "
                               "evaluate, export, predict, gate-report)")
    compile_.add_argument("--register-model", action="store_true",
                          help="upload the exported SavedModel to the Vertex Model Registry (prebuilt TF serving "
                               "image)")
    compile_.add_argument("--vertex-batch-predict", action="store_true",
                          help="also run a Vertex batch prediction job on the uploaded model (implies "
                               "--register-model)")
    compile_.add_argument("--deploy-endpoint", action="store_true",
                          help="also create a Vertex endpoint and deploy the uploaded model on it (implies "
                               "--register-model); size it with --param endpoint_machine_type=...")
    compile_.add_argument("--allow-placeholder-image", action="store_true",
                          help="compile even when a step uses the placeholder image us-docker.pkg.dev/your-project/...")
    compile_.add_argument("--cache-training", action="store_true",
                          help="let Vertex cache the training step (off by default)")
    compile_.add_argument("--train-retries", type=int, default=2)
    compile_.add_argument("--resume", action="store_true",
                          help="add init_model_uri/init_mode parameters to resume training")

    submit = commands.add_parser("submit", help="submit a compiled pipeline to Vertex AI Pipelines",
                                 epilog=_SUBMIT_EXAMPLE, formatter_class=formatter)
    _add_vertex_arguments(submit)
    submit.add_argument("--experiment", default=None,
                        help="add the run to this Vertex AI Experiments experiment (its metrics appear there)")

    schedule = commands.add_parser("schedule", help="run a compiled pipeline on a cron schedule on Vertex AI",
                                   epilog=_SCHEDULE_EXAMPLE, formatter_class=formatter)
    _add_vertex_arguments(schedule)
    schedule.add_argument("--cron", required=True, help="five cron fields, optionally prefixed with TZ=Zone")
    schedule.add_argument("--schedule-name", default=None, help="schedule display name")
    schedule.add_argument("--max-concurrent-runs", type=int, default=1)
    schedule.add_argument("--max-runs", type=int, default=None)
    schedule.add_argument("--start-time", default=None, help="RFC 3339 time of the first run")
    schedule.add_argument("--end-time", default=None, help="RFC 3339 time after which no run starts")
    schedule.add_argument("--allow-queueing", action="store_true")

    from .tpu_smoke import command as tpu_smoke_command

    tpu_smoke = commands.add_parser("tpu-smoke", help="check a Vertex TPU VM stage by stage before a long job",
                                    epilog=tpu_smoke_command.EXAMPLE, formatter_class=formatter)
    tpu_smoke_command.add_arguments(tpu_smoke)

    specs = commands.add_parser("components", help="write (or check) the compiled component YAMLs",
                                epilog=_COMPONENTS_EXAMPLE, formatter_class=formatter)
    specs.add_argument("--output-dir", required=True,
                       help="folder holding <name>/component.yaml (the repo's components/)")
    specs.add_argument("--image", default=None, help="image the components run in (default: the release image name)")
    specs.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is stale or missing")

    commands.add_parser("upgrade", help="rewrite tf.estimator code to estimator_lib (see `upgrade --help`)",
                        epilog=_UPGRADE_EXAMPLE, formatter_class=formatter, add_help=False)
    return parser


def _run_local(args: argparse.Namespace) -> int:
    from .local_run import format_summary, run_local
    from .parameters import parse_parameters, pipeline_parameter_types
    from .training_pipeline import build_training_pipeline

    resume = args.init_model_uri is not None
    pipeline = build_training_pipeline("local", resume=resume, train_retries=args.train_retries)
    values = parse_parameters(args.param, pipeline_parameter_types(pipeline))
    _check_uris(args, values)
    if resume:
        import os

        values.update(init_model_uri=os.path.abspath(args.init_model_uri), init_mode=args.init_mode)
    for name in ("model_ref", "params_json", "train_steps", "threshold"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    print(f"Running the training pipeline locally under {args.pipeline_root} with {values or 'default parameters'}",
          flush=True)
    try:
        summary = run_local(args.pipeline_root, target_pipeline=pipeline, **values)
    except RuntimeError as error:
        import re

        from ..components._uris import redact_secrets

        message = redact_secrets(re.sub(r"\x1b\[[0-9;]*m", "", str(error)))  # kfp colours task names
        print(f"error: the local pipeline run failed: {message}\nThe failing task's log above says why.",
              file=sys.stderr)
        return 1
    print("\n" + "=" * 80 + "\n" + format_summary(summary), flush=True)
    if args.summary_json:
        with open(args.summary_json, "w") as handle:
            json.dump({"run_dir": summary.run_dir, "artifacts": summary.artifacts, "parameters": summary.parameters},
                      handle, indent=2)
    return 0


def _compile(args: argparse.Namespace) -> int:
    import os

    from ..components import images
    from .placement import GpuPlacement, TpuPlacement
    from .training_pipeline import compile_pipeline

    if args.gpu_replicas != 1 and args.target != "gpu":
        raise ValueError(
            f"--gpu-replicas {args.gpu_replicas} applies to --target gpu (a multi-node GPU training job); the "
            f"{args.target} target trains on one machine. Drop the flag or compile --target gpu."
        )
    output = args.output or f"estimator-training-{args.target}.yaml"
    path = compile_pipeline(
        args.target,
        output,
        image=args.image or images.DEFAULT_IMAGE,
        gpu=GpuPlacement(machine_type=args.machine_type, accelerator_type=args.accelerator_type,
                         accelerator_count=args.accelerator_count, gpu_image=args.gpu_image or images.GPU_IMAGE,
                         reservation=args.reservation, replica_count=args.gpu_replicas),
        tpu=TpuPlacement(machine_type=args.tpu_machine_type, tpu_topology=args.tpu_topology,
                         replica_count=args.tpu_replicas, tpu_image=args.tpu_image or images.TPU_IMAGE,
                         iterations_per_loop=args.iterations_per_loop, reservation=args.reservation,
                         accelerator_type=args.tpu_accelerator_type),
        cache_training=args.cache_training,
        train_retries=args.train_retries,
        resume=args.resume,
        resources=_step_resources(args.step_resources),
        register_model=args.register_model,
        vertex_batch_predict=args.vertex_batch_predict,
        deploy_endpoint=args.deploy_endpoint,
    )
    if not args.allow_placeholder_image:
        with open(path) as handle:
            text = handle.read()
        try:
            images.refuse_placeholder_images(text, where=f"The compiled {args.target} pipeline")
        except ValueError:
            os.remove(path)
            raise
    print(f"Compiled the {args.target} pipeline to {path}")
    return 0


def _step_resources(pairs: Sequence[str]) -> dict[str, tuple[str, str]]:
    resources = {}
    for pair in pairs:
        step, _, limits = pair.partition("=")
        cpu, comma, memory = limits.partition(",")
        if not step or not comma:
            raise ValueError(
                f"--step-resources must look like STEP=CPU,MEMORY (e.g. evaluate=8,32G); received {pair!r}."
            )
        resources[step] = (cpu, memory)
    return resources


def build_job_from_args(args: argparse.Namespace, credentials=None):
    """The PipelineJob the submit/schedule arguments describe (no network)."""
    from . import vertex
    from .parameters import (
        parse_labels,
        parse_parameters,
        template_parameter_defaults,
        template_parameter_types,
    )

    vertex.check_region(args.region)
    _check_uris(args, {})
    vertex.check_pipeline_root(args.pipeline_root)
    import os

    if not os.path.isfile(args.template):
        raise ValueError(f"--template {args.template!r} does not exist; create it with `estimator-pipelines compile`.")
    if not args.allow_placeholder_image:
        from ..components import images

        with open(args.template) as handle:
            images.refuse_placeholder_images(handle.read(), where=f"--template {args.template}")
    types = template_parameter_types(args.template)
    values = parse_parameters(args.param, types)
    _check_uris(args, values)
    vertex.check_tpu_machine(types, values, template_parameter_defaults(args.template))
    labels = parse_labels(args.label) or None
    values.update(vertex.training_job_values(
        types, given=values, labels=labels, strategy=STRATEGIES.get(args.strategy), timeout=args.timeout,
        max_wait_duration=args.max_wait_duration, restart_job_on_worker_restart=args.restart_job_on_worker_restart,
        tensorboard=args.tensorboard,
    ))
    return vertex.build_pipeline_job(
        template_path=args.template, project=args.project, region=args.region, pipeline_root=args.pipeline_root,
        parameter_values=values, display_name=args.display_name, enable_caching=args.enable_caching,
        labels=labels, encryption_spec_key_name=args.encryption_key, credentials=credentials,
    )


def _check_uris(args: argparse.Namespace, values: dict) -> None:
    """Every URI the command takes, through the components' one validator (no secrets, traversal, typos)."""
    from ..components._uris import check_uri, check_uris

    for flag in ("pipeline_root", "init_model_uri"):
        if getattr(args, flag, None) is not None:
            check_uri(getattr(args, flag), "--" + flag.replace("_", "-"))
    check_uris(values)


def _print_request(request) -> None:
    print(type(request).to_json(request))


def _submit(args: argparse.Namespace) -> int:
    from . import vertex

    vertex.check_experiment(args.experiment)
    credentials = _dry_run_credentials() if args.dry_run else None
    job = build_job_from_args(args, credentials)
    if args.dry_run:
        request = vertex.create_job_request(job, service_account=args.service_account, network=args.network)
        jobs = vertex.training_custom_jobs(request, project=args.project, location=args.region)
        print(json.dumps({
            "createPipelineJobRequest": json.loads(type(request).to_json(request)),
            "trainingCustomJobs": {name: json.loads(type(custom).to_json(custom)) for name, custom in jobs.items()},
            "experiment": args.experiment,
        }, indent=2))
        return 0
    vertex.submit(job, service_account=args.service_account, network=args.network, experiment=args.experiment)
    print(f"Submitted {job.resource_name}\n{job._dashboard_uri()}")
    return 0


def _schedule(args: argparse.Namespace) -> int:
    from . import vertex

    options = vertex.schedule_options(
        cron=args.cron, max_concurrent_run_count=args.max_concurrent_runs, max_run_count=args.max_runs,
        start_time=args.start_time, end_time=args.end_time, allow_queueing=args.allow_queueing,
        service_account=args.service_account, network=args.network,
    )
    credentials = _dry_run_credentials() if args.dry_run else None
    job = build_job_from_args(args, credentials)
    display_name = args.schedule_name or f"{job._gca_resource.display_name}-schedule"
    if args.dry_run:
        _print_request(vertex.create_schedule_request(vertex.build_schedule(job, display_name=display_name), options))
        return 0
    schedule = vertex.create_schedule(job, display_name=display_name, options=options)
    print(f"Created schedule {schedule.resource_name}")
    return 0


def _tpu_smoke(args: argparse.Namespace) -> int:
    from .tpu_smoke import command

    return command.run(args)


def _components(args: argparse.Namespace) -> int:
    from ..components import images
    from .component_specs import stale_component_specs, write_component_specs

    image = images.check_image(args.image or images.RELEASE_IMAGE)
    if args.check:
        stale = stale_component_specs(args.output_dir, image)
        if stale:
            print(f"error: stale component YAML: {', '.join(stale)}. Regenerate with "
                  f"`estimator-pipelines components --output-dir {args.output_dir}`.", file=sys.stderr)
            return 1
        print("Component YAMLs are up to date.")
        return 0
    for path in write_component_specs(args.output_dir, image):
        print(f"Wrote {path}")
    return 0


def _dry_run_credentials():
    """A dry run builds requests offline, so it must not look for Google credentials."""
    from google.auth.credentials import AnonymousCredentials

    return AnonymousCredentials()


def _upgrade(argv: Sequence[str]) -> int:
    try:
        from estimator_lib.migrate.cli import main as migrate_main
    except ImportError as error:
        print(f"error: the upgrade tool (estimator_lib.migrate.cli) cannot be imported: {error}. "
              f"Install it with `pip install 'estimator-lib[migrate]'`.", file=sys.stderr)
        return 2
    return int(migrate_main(list(argv), prog="estimator-pipelines upgrade") or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point (`estimator-pipelines`). Returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "upgrade":
        return _upgrade(argv[1:])
    args = build_parser().parse_args(argv)
    handlers = {"run-local": _run_local, "compile": _compile, "submit": _submit, "schedule": _schedule,
                "tpu-smoke": _tpu_smoke, "components": _components}
    from google.auth.exceptions import DefaultCredentialsError

    try:
        return handlers[args.command](args)
    except (ValueError, TypeError) as error:
        from ..components._uris import redact_secrets

        print(f"error: {redact_secrets(error)}", file=sys.stderr)
        return 2
    except DefaultCredentialsError:
        print(
            "error: no Google Cloud credentials found. Run `gcloud auth application-default login` (or set "
            "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file), or add --dry-run to print the request "
            "without sending it.",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
