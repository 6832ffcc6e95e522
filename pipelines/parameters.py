"""Turning `--param name=value` strings into typed pipeline parameter values."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# KFP component-spec type names and compiled-YAML parameterType names, to one kind each.
_KINDS = {
    "String": "string", "STRING": "string",
    "Integer": "int", "NUMBER_INTEGER": "int",
    "Float": "float", "NUMBER_DOUBLE": "float",
    "Boolean": "bool", "BOOLEAN": "bool",
    "Dict": "dict", "STRUCT": "dict",
    "List": "list", "LIST": "list",
}


def pipeline_parameter_types(pipeline) -> dict[str, str]:
    """Parameter name -> kind for a KFP pipeline object."""
    return {name: _KINDS.get(spec.type, "string") for name, spec in pipeline.component_spec.inputs.items()}


def template_parameter_types(template_path: str) -> dict[str, str]:
    """Parameter name -> kind read from a compiled pipeline YAML."""
    import yaml

    with open(template_path) as handle:
        document = yaml.safe_load(handle)
    definitions = document.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    return {name: _KINDS.get(spec.get("parameterType", "STRING"), "string") for name, spec in definitions.items()}


def template_parameter_defaults(template_path: str) -> dict[str, Any]:
    """Parameter name -> default value read from a compiled pipeline YAML (parameters without one left out)."""
    import yaml

    with open(template_path) as handle:
        document = yaml.safe_load(handle)
    definitions = document.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    return {name: spec["defaultValue"] for name, spec in definitions.items() if "defaultValue" in spec}


def parse_parameters(pairs: Iterable[str], types: dict[str, str]) -> dict[str, Any]:
    """Parses 'name=value' pairs, converting each value to its parameter's type; names must exist."""
    values: dict[str, Any] = {}
    for pair in pairs:
        name, separator, raw = pair.partition("=")
        if not separator or not name:
            raise ValueError(f"--param must look like name=value (e.g. train_steps=300); received {pair!r}.")
        if name not in types:
            raise ValueError(f"--param {name!r} is not a pipeline parameter; the pipeline takes {sorted(types)}.")
        values[name] = _convert(name, raw, types[name])
    return values


def parse_labels(pairs: Iterable[str]) -> dict[str, str]:
    """Parses '--label key=value' pairs (submit, schedule and tpu-smoke take them alike)."""
    labels: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise ValueError(f"--label must look like name=value (e.g. team=ml); received {pair!r}.")
        labels[key] = value
    return labels


def _convert(name: str, raw: str, kind: str) -> Any:
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise ValueError(
            f"--param {name} must be a{'n integer' if kind == 'int' else ' number'}; received {raw!r}."
        ) from None
    if kind in ("dict", "list"):
        import json

        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, dict if kind == "dict" else list):
            example = '{"team": "ml"}' if kind == "dict" else '["a", "b"]'
            raise ValueError(
                f"--param {name} must be a JSON {'object' if kind == 'dict' else 'array'} such as "
                f"{example}; received {raw!r}."
            )
        return value
    if kind == "bool":
        lowered = raw.lower()
        if lowered not in ("true", "false", "1", "0"):
            raise ValueError(f"--param {name} must be true or false; received {raw!r}.")
        return lowered in ("true", "1")
    return raw
