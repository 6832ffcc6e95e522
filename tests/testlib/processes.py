"""What the tests that start Python processes share: an environment in which the child imports this
checkout and `testlib`, and free local ports for a cluster on 127.0.0.1."""

from __future__ import annotations

import os
import socket

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(TESTS)
# The log line of a TensorFlow server whose port another process took between free_ports() and its start.
PORT_TAKEN = "Could not start gRPC server"


def python_env(**variables: str | None) -> dict[str, str]:
    """os.environ with the checkout, then tests/, first on PYTHONPATH (the child imports this worktree's
    estimator_lib and `testlib`, wherever its cwd), plus `variables`; a variable given as None is removed
    (e.g. TF_CONFIG=None for a process that must run alone)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO, TESTS, os.environ.get("PYTHONPATH", "")) if p)
    for name, value in variables.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def free_ports(count: int) -> list[int]:
    """`count` ports free on 127.0.0.1 right now (a child may still lose one: see PORT_TAKEN)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()
