"""Which files an upgrade reads and where their upgraded text goes (in place or into an output tree)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterator

# Directories never entered when walking a tree: VCS data, caches, virtual environments.
_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages"}


class PathError(ValueError):
    """A path argument the tool cannot use; the message says what to pass instead."""


@dataclasses.dataclass(frozen=True)
class Job:
    """One Python file to upgrade: read `source`, write the result to `destination`."""

    source: str
    destination: str
    display: str  # the path shown in the report


def plan_jobs(paths: list[str], output: str | None) -> tuple[list[Job], list[tuple[str, str]]]:
    """Python files to upgrade, and (for an output tree) the other files to copy unchanged.

    Raises PathError for a missing path, a non-Python file, or an output that would overwrite its input.
    """
    if not paths:
        raise PathError("upgrade: no path given. Pass one or more .py files or directories.")
    for path in paths:
        if not os.path.exists(path):
            raise PathError(f"upgrade: path does not exist: {path!r}. Pass an existing .py file or directory.")
        if os.path.isfile(path) and not path.endswith(".py"):
            raise PathError(f"upgrade: {path!r} is not a Python file (.py). Pass a .py file or a directory.")
    if output is None:
        jobs = [Job(source, source, source) for path in paths for source in _python_files(path)]
        return jobs, []
    if len(paths) != 1:
        raise PathError(f"upgrade: --output takes exactly one input path, received {len(paths)}: {paths!r}.")
    return _plan_output(paths[0], output)


def _plan_output(source: str, output: str) -> tuple[list[Job], list[tuple[str, str]]]:
    source_abs, output_abs = os.path.abspath(source), os.path.abspath(output)
    if os.path.isfile(source):
        if os.path.isdir(output) or output.endswith(os.sep):
            destination = os.path.join(output, os.path.basename(source))
        else:
            destination = output
        if os.path.abspath(destination) == source_abs:
            raise PathError(f"upgrade: --output {output!r} is the input file itself; use --in-place for that.")
        return [Job(source, destination, source)], []
    if os.path.exists(output) and not os.path.isdir(output):
        raise PathError(f"upgrade: --output {output!r} is a file but the input {source!r} is a directory; "
                        "pass a directory (it is created if missing).")
    if output_abs == source_abs or output_abs.startswith(source_abs + os.sep):
        raise PathError(f"upgrade: --output {output!r} is inside the input directory {source!r}; "
                        "choose a directory outside it.")
    jobs, copies = [], []
    for path in _all_files(source):
        relative = os.path.relpath(path, source)
        destination = os.path.join(output, relative)
        if path.endswith(".py"):
            jobs.append(Job(path, destination, path))
        else:
            copies.append((path, destination))
    return jobs, copies


def _python_files(path: str) -> Iterator[str]:
    if os.path.isfile(path):
        yield path
        return
    for file_path in _all_files(path):
        if file_path.endswith(".py"):
            yield file_path


def _all_files(root: str) -> Iterator[str]:
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(
            d
            for d in subdirectories
            if not d.startswith(".")
            and d not in _SKIP_DIRS
            and not os.path.exists(os.path.join(directory, d, "pyvenv.cfg"))
        )
        for name in sorted(files):
            yield os.path.join(directory, name)


def read_text(path: str) -> str:
    # newline="" keeps \r\n line endings exactly as they are.
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


def write_text(path: str, text: str, *, like: str | None = None) -> None:
    """Writes through a temporary file and a rename, so an interrupted run never leaves half a file.

    The file keeps its permissions; a new file takes those of `like` (its source).
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    model = path if os.path.exists(path) else like
    mode = os.stat(model).st_mode & 0o7777 if model and os.path.exists(model) else None
    handle, temporary = tempfile.mkstemp(prefix=".upgrade-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def copy_file(source: str, destination: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(destination)), exist_ok=True)
    shutil.copy2(source, destination)
