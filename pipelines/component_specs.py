"""The compiled component YAMLs shipped in the repository, for `kfp.components.load_component_from_file`.

`estimator-pipelines components --output-dir components` regenerates `components/<name>/component.yaml`
from the Python declarations; `--check` exits with an error when a shipped file is stale
(tests/pipelines/test_pipeline_component_specs.py runs it).
"""

from __future__ import annotations

import os
import tempfile

COMPONENTS = ("train", "evaluate", "export", "predict", "gate_report", "register")
_VOLATILE = ("sdkVersion:",)  # the kfp version that compiled the file; not part of the component


def build_components(image: str) -> dict:
    """Component name -> the KFP component running in `image`."""
    from ..components.evaluate import component as evaluate
    from ..components.export import component as export
    from ..components.gate_report import component as gate_report
    from ..components.predict import component as predict
    from ..components.register import component as register
    from ..components.train import component as train

    modules = {"train": train, "evaluate": evaluate, "export": export, "predict": predict, "gate_report": gate_report,
               "register": register}
    return {name: modules[name].build(image) for name in COMPONENTS}


def render(component) -> str:
    """The component's compiled YAML text."""
    from kfp import compiler

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "component.yaml")
        compiler.Compiler().compile(component, path)
        with open(path) as handle:
            return handle.read()


def write_component_specs(output_dir: str, image: str) -> list[str]:
    """Writes <output_dir>/<name>/component.yaml for every component; returns the paths."""
    paths = []
    for name, component in build_components(image).items():
        path = os.path.join(output_dir, name, "component.yaml")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(render(component))
        paths.append(path)
    return paths


def stale_component_specs(output_dir: str, image: str) -> list[str]:
    """The shipped files that differ from what the declarations compile to (or are missing)."""
    stale = []
    for name, component in build_components(image).items():
        path = os.path.join(output_dir, name, "component.yaml")
        if not os.path.isfile(path):
            stale.append(path)
            continue
        with open(path) as handle:
            if _stable(handle.read()) != _stable(render(component)):
                stale.append(path)
    return stale


def _stable(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.lstrip("# ").startswith(_VOLATILE)]
