"""The `estimator-pipelines tpu-smoke` subcommand: arguments and what each mode does."""

from __future__ import annotations

import argparse
import json
import sys

EXAMPLE = """example:
  # check a TPU v5e VM on Vertex before a long job (prints one JSON line a stage in the job's logs):
  estimator-pipelines tpu-smoke --submit --wait --project my-project --region us-central1 \\
      --staging-bucket gs://my-bucket/staging --image us-docker.pkg.dev/my-project/repo/estimator-lib-tpu:0.1.0 \\
      --machine-type ct5lp-hightpu-4t --tpu-topology 2x2
  estimator-pipelines tpu-smoke --machine-type cloud-tpu --accelerator-type TPU_V3 --output smoke-job.json
  estimator-pipelines tpu-smoke --here          (on a TPU VM: run the stages on this machine)
"""
DEFAULT_MACHINE = ("ct5lp-hightpu-4t", "2x2")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--here", action="store_true", help="run the stages on this machine (a TPU VM)")
    mode.add_argument("--submit", action="store_true", help="submit the CustomJob to Vertex AI")
    parser.add_argument(
        "--machine-type",
        default=None,
        help=f"Vertex TPU machine (default {DEFAULT_MACHINE[0]} + {DEFAULT_MACHINE[1]}; see pipelines/tpu_machines.py)",
    )
    parser.add_argument("--tpu-topology", default=None, help="chips per dimension, required for TPU v5e (2x2 ...)")
    parser.add_argument("--accelerator-type", default=None, help="TPU_V2 or TPU_V3 with --machine-type cloud-tpu")
    parser.add_argument("--image", default=None, help="the TPU image (default: components.images.TPU_IMAGE)")
    parser.add_argument("--stage-timeout", type=float, default=600.0, help="seconds per stage (default %(default)g)")
    parser.add_argument("--output", default=None, help="also write the CustomJob JSON to this file")
    parser.add_argument("--project", default=None)
    parser.add_argument("--region", default=None, help="Vertex AI region, e.g. us-central1")
    parser.add_argument("--staging-bucket", default=None, help="gs:// URI for the job's files (required by --submit)")
    parser.add_argument("--service-account", default=None)
    parser.add_argument("--network", default=None)
    parser.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--wait", action="store_true", help="with --submit: block until the job ends")
    parser.add_argument(
        "--libtpu-path", default=None, help="with --here: libtpu.so for the PJRT runs (default /lib/libtpu.so)"
    )


def _machine(args: argparse.Namespace, *, default: bool):
    from .. import tpu_machines

    if args.machine_type is None:
        if not default:
            if args.tpu_topology or args.accelerator_type:
                raise ValueError("--tpu-topology/--accelerator-type need --machine-type.")
            return None
        if args.tpu_topology or args.accelerator_type:
            raise ValueError(
                f"--tpu-topology/--accelerator-type need --machine-type (the default is "
                f"{DEFAULT_MACHINE[0]} with {DEFAULT_MACHINE[1]})."
            )
        return tpu_machines.resolve(*DEFAULT_MACHINE)
    return tpu_machines.resolve(args.machine_type, args.tpu_topology, args.accelerator_type)


def run(args: argparse.Namespace) -> int:
    if args.here:
        from .. import tpu_machines
        from .runner import run_here

        results = run_here(
            machine=_machine(args, default=False),
            stage_timeout=args.stage_timeout,
            libtpu_path=args.libtpu_path or tpu_machines.LIBTPU_PATH,
            emit=lambda line: print(line, flush=True),
        )
        return 0 if results[-1]["status"] == "pass" else 1

    from ...components import images
    from ..parameters import parse_labels
    from . import job as smoke_job

    machine = _machine(args, default=True)
    job = smoke_job.build_custom_job(
        machine,
        image=args.image or images.TPU_IMAGE,
        stage_timeout=args.stage_timeout,
        labels=parse_labels(args.label) or None,
    )
    smoke_job.to_proto(job)  # fail here, offline, on anything Vertex's API would refuse to parse
    text = json.dumps(job, indent=2)
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(text + "\n")
    if not args.submit:
        print(text)
        return 0
    missing = [
        flag
        for flag, value in (
            ("--project", args.project),
            ("--region", args.region),
            ("--staging-bucket", args.staging_bucket),
        )
        if not value
    ]
    if missing:
        raise ValueError(
            f"--submit needs {', '.join(missing)}; e.g. --project my-project --region us-central1 "
            f"--staging-bucket gs://my-bucket/staging."
        )
    submitted = smoke_job.submit(
        job,
        project=args.project,
        region=args.region,
        staging_bucket=args.staging_bucket,
        service_account=args.service_account,
        network=args.network,
        wait=args.wait,
    )
    print(
        f"Submitted {submitted.resource_name} on {machine.machine_type} ({machine.cores} TPU cores). Each stage "
        f"prints one JSON line in the job's logs: gcloud ai custom-jobs stream-logs {submitted.resource_name}",
        file=sys.stdout,
    )
    return 0
