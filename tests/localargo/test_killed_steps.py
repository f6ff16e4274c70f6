"""A step ended by a signal nobody in the engine sent (the OOM killer, a kill from the host)
ends as Kubernetes reports such a container and Argo shows it: exit code 128 + the signal,
"Error (exit code 137)" for SIGKILL, the node Failed. It used to say "step could not start"."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

from tests.localargo.conftest import Client, container, workflow


def _step_shell(token: str, timeout: float = 30) -> int:
    """The pid of the step's shell: the process whose last argument names the token."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")[:-1]
            except OSError:
                continue
            shell = argv[:1] and argv[0].rsplit(b"/", 1)[-1] in (b"sh", b"ash", b"bash")
            if shell and len(argv) >= 3 and argv[-2] == b"-c" and token.encode() in argv[-1]:
                return int(entry.name)
        time.sleep(0.1)
    raise AssertionError(f"no step shell with {token} after {timeout}s")


def test_a_step_killed_from_outside_ends_as_its_signal_says(api: Client) -> None:
    token = f"killed-outside-{uuid.uuid4().hex[:8]}"
    wf = workflow("main", [container("main", f"echo started; sleep 600; echo {token}")])
    name = api.create(wf)["metadata"]["name"]
    os.kill(_step_shell(token), signal.SIGKILL)
    done = api.wait(name)
    assert done["status"]["phase"] == "Failed", done["status"]
    (node,) = [n for n in done["status"]["nodes"].values() if n["type"] == "Pod"]
    assert (node["phase"], node["message"]) == ("Failed", "Error (exit code 137)")
    assert node["outputs"]["exitCode"] == "137"
