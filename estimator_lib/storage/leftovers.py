"""Removing what crashed attempts left behind, only when it provably belongs to nobody alive.

- Staging directories in $TMPDIR (a gs:// export is written locally first, a component stages its
  export): named with the creating process id; removed once that process no longer exists.
- `temp-<stamp>` export directories in an export base (a kill between the SavedModel builder and the
  rename): removed when nothing in them changed for `idle_secs` (another exporter may be writing one).
- Checkpoint staging in a model_dir (`<prefix>_temp/` of a sharded save, `*.tempstate*` files of a
  bundle writer, `checkpoint.tmp*` state files): removed by the one writer of that directory before it
  trains (see the train component; another process saving there at the same time would be a second
  writer).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time

_log = logging.getLogger("estimator_lib.storage")
_PID_DIR = re.compile(r"^(?P<prefix>.+?)pid(?P<pid>\d+)-")
_CHECKPOINT_TEMP_DIR = re.compile(r"^.+_temp$")
_CHECKPOINT_TEMP_FILE = re.compile(r"(\.tempstate\d*|^checkpoint\.tmp[0-9a-f]+)")


def make_owned_temp_dir(prefix: str) -> str:
    """A new directory in $TMPDIR whose name records this process, so a later run can tell it is orphaned."""
    return tempfile.mkdtemp(prefix=f"{prefix}pid{os.getpid()}-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def remove_orphaned_temp_dirs(prefix: str, root: str | None = None) -> list[str]:
    """Removes `make_owned_temp_dir(prefix)` directories whose process is gone; returns their paths."""
    root = root or tempfile.gettempdir()
    removed = []
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return removed
    for name in names:
        match = _PID_DIR.match(name)
        if not match or match.group("prefix") != prefix:
            continue
        pid = int(match.group("pid"))
        path = os.path.join(root, name)
        if pid == os.getpid() or _alive(pid) or not os.path.isdir(path):
            continue
        shutil.rmtree(path, ignore_errors=True)
        _log.warning("Removed %s, left by process %d that no longer runs.", path, pid)
        removed.append(path)
    return removed


def _newest_change(path: str) -> float:
    newest = os.path.getmtime(path)
    for directory, _, names in os.walk(path):
        for name in names:
            try:
                newest = max(newest, os.path.getmtime(os.path.join(directory, name)))
            except FileNotFoundError:
                continue
        newest = max(newest, os.path.getmtime(directory))
    return newest


def remove_stale_export_temps(export_dir_base: str, *, prefix: str = "temp-", idle_secs: float = 3600) -> list[str]:
    """Removes local `temp-<stamp>` export directories unchanged for `idle_secs`; returns their paths."""
    removed = []
    if not os.path.isdir(export_dir_base):
        return removed
    now = time.time()
    for name in os.listdir(export_dir_base):
        path = os.path.join(export_dir_base, name)
        if not name.startswith(prefix) or not name[len(prefix):].isdigit() or not os.path.isdir(path):
            continue
        if now - _newest_change(path) < idle_secs:
            continue
        shutil.rmtree(path, ignore_errors=True)
        _log.warning("Removed the abandoned export %s (unchanged for over %d s).", path, idle_secs)
        removed.append(path)
    return removed


def remove_temp_files_of(directory: str, file_name: str) -> list[str]:
    """Removes `<file_name>.tmp-<hex>` files (a write killed before its rename) from a step's own output dir."""
    pattern = re.compile(rf"^{re.escape(file_name)}\.tmp-[0-9a-f]{{12,32}}$")
    removed = []
    if os.path.isdir(directory):
        for name in os.listdir(directory):
            if pattern.match(name):
                os.remove(os.path.join(directory, name))
                removed.append(name)
    return removed


def remove_checkpoint_temps(model_dir: str) -> list[str]:
    """Removes the checkpoint staging a killed save left in local model_dir; call only as its one writer."""
    removed = []
    if not os.path.isdir(model_dir):
        return removed
    for name in os.listdir(model_dir):
        path = os.path.join(model_dir, name)
        if os.path.isdir(path) and _CHECKPOINT_TEMP_DIR.match(name):
            if all(entry.startswith("part-") for entry in os.listdir(path)):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        elif os.path.isfile(path) and _CHECKPOINT_TEMP_FILE.search(name):
            os.remove(path)
            removed.append(path)
    for path in removed:
        _log.warning("Removed %s, left by an interrupted checkpoint save.", path)
    return removed
