"""The Vertex project the pipeline CLI tests submit to, and the words every `submit`/`schedule` call in them
starts with, so each test spells out only the options it is about."""

from __future__ import annotations

PROJECT, REGION, ROOT = "my-project", "us-central1", "gs://my-bucket/pipeline_root"
SERVICE_ACCOUNT = "trainer@my-project.iam.gserviceaccount.com"
NETWORK = "projects/123/global/networks/vpc"


def cli_args(command: str, template: str, *options: str) -> list[str]:
    """`estimator-pipelines <command>` arguments for `template` in PROJECT/REGION under ROOT, then `options`."""
    return [command, "--template", template, "--project", PROJECT, "--region", REGION, "--pipeline-root", ROOT,
            *options]
