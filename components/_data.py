"""A step's input data: a path or URI string, or a `Dataset` artifact from an upstream step or importer."""

from __future__ import annotations

from typing import Any


def data_path(name: str, uri: str, dataset: Any = None) -> str:
    """The path the input_fn reads: the artifact's local path when a Dataset is connected, else `uri`.

    Both at once is refused: one of them would be silently ignored.
    """
    if dataset is None:
        return uri
    if uri:
        raise ValueError(
            f"{name} and {name.replace('_data', '_dataset')} are both set ({name}={uri!r}, artifact "
            f"{dataset.uri!r}); pass the data one way: a path/URI string or a Dataset artifact."
        )
    return dataset.path
