"""The smoke check names a TPU device file the image's unprivileged user may not open.

Real files and a real unprivileged process: the check runs in a child that drops to uid 65534 (nobody), so
the permission bits decide, as they would for the image's `estimator` user on a TPU VM.
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile

import pytest

NOBODY = 65534

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another uid needs root")

_CHILD = """
import json, os, sys
from estimator_kfp.pipelines.tpu_smoke import probe  # imported first: the interpreter lives under /root
os.setgid({uid}); os.setuid({uid})
print(json.dumps(probe.unusable_device_files(sys.argv[1:])))
"""


@pytest.fixture
def open_dir():
    """A folder the unprivileged child can reach (pytest's own tmp folders are private to root)."""
    with tempfile.TemporaryDirectory(prefix="device-access-") as folder:
        os.chmod(folder, 0o755)
        yield pathlib.Path(folder)


def _check_as_nobody(paths):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", _CHILD.format(uid=NOBODY), *paths], capture_output=True,
                          text=True, env=env, timeout=60, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_device_file_only_root_may_open_is_reported_with_mode_and_owner(open_dir):
    open_to_all = open_dir / "accel0"
    root_only = open_dir / "accel1"
    for path, mode in ((open_to_all, 0o666), (root_only, 0o600)):
        path.write_bytes(b"")
        os.chmod(path, mode)
    found = _check_as_nobody([str(open_to_all), str(root_only)])
    assert found == [{"path": str(root_only), "mode": "-rw-------", "uid": 0, "gid": 0}]


def test_a_missing_device_file_is_reported_with_the_error(open_dir):
    found = _check_as_nobody([str(open_dir / "vanished")])
    assert len(found) == 1 and found[0]["path"].endswith("vanished") and "No such file" in found[0]["error"]
