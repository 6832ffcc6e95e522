"""Parsing the TF_CONFIG environment variable, without TensorFlow.

RunConfig reads it, and so does the train component's worker entry before TensorFlow loads; one parser
keeps their errors the same.
"""

from __future__ import annotations

import json


def parse_tf_config(raw: str | None) -> dict:
    """Parses TF_CONFIG ({} when unset or empty), naming the problem when it is malformed."""
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}); received {raw!r}.") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object with 'cluster' and 'task'; received {raw!r}.")
    return parsed
