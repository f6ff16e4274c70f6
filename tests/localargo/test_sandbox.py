"""A step cannot reach the app's secrets, database or the host (sandbox.py).

Real workflows, submitted over HTTP to an engine started with a fake DATABASE_URL in its
environment, run a probe that TRIES each escape and prints one line per attempt; every line is
checked on its own, and the step itself must succeed (a probe that crashed proves nothing)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import requests

from tests.processes import EngineProcess

from .conftest import NS, Client, container, workflow

ROOT = Path(__file__).resolve().parents[2]
MARK = "s3cr3t-value"  # the probe spells it in two halves: its own source is in its env
SECRET = f"postgres://ydp:{MARK}@127.0.0.1:5432/ydp"

# One line per attempt: "<attempt>: <outcome>". Only OSError (and its kinds) counts as denied;
# anything else crashes the probe, which fails the step and so the test.
PROBE = r"""
import errno, os, socket, subprocess

def attempt(name, action):
    try:
        result = action()
    except OSError as exc:
        code = errno.errorcode.get(exc.errno, "") if exc.errno else ""
        print(f"{name}: denied ({type(exc).__name__} {code})", flush=True)
        return
    print(f"{name}: {result}", flush=True)

def read(path):
    with open(path, "rb") as fh:
        data = fh.read()
    leak = b"s3cr3t" + b"-value" in data or b"DATABASE" + b"_URL=" in data
    return "LEAK" if leak else "read, no secret"

def write(path):
    with open(path, "w") as fh:
        fh.write("x")
    return "written"

def pids():
    found = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    return "only its own" if set(found) <= {1, os.getpid()} else f"SEES {found}"

def tcp(port):
    with socket.create_connection(("127.0.0.1", port), timeout=3):
        return "CONNECTED"

def unix(path):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
        return "CONNECTED"

def psql(*args):
    done = subprocess.run(["psql", *args, "-U", "postgres", "-c", "select 1"],
                          capture_output=True, timeout=20)
    return "CONNECTED" if done.returncode == 0 else f"refused (exit {done.returncode})"

def env():
    leaks = [k for k, v in os.environ.items()
             if "s3cr3t" + "-value" in v or k in ("DATABASE_URL", "REDIS_URL")]
    return f"LEAK {leaks}" if leaks else "clean"

def own_files():
    os.makedirs("/tmp/out", exist_ok=True)
    with open("/tmp/out/report.txt", "w") as fh:
        fh.write("report of " + open("/tmp/in/f").read().strip())
    with open("/tmp/in/new", "w") as fh:  # the folder the engine made for the input
        fh.write("x")
    with open("/tmp/scratch", "w") as fh:
        fh.write("x")
    return "ok " + open("/tmp/raw").read()

attempt("uid", lambda: "root" if os.getuid() == 0 else "unprivileged")
attempt("proc-1-environ", lambda: read("/proc/1/environ"))
attempt("proc-pids", pids)
attempt("engine-environ", lambda: read("/proc/ENGINE_PID/environ"))
attempt("shadow", lambda: read("/etc/shadow"))
attempt("tcp-5432", lambda: tcp(5432))
attempt("tcp-6379", lambda: tcp(6379))
attempt("unix-postgres", lambda: unix("/run/postgresql/.s.PGSQL.5432"))
if HAS_PSQL:
    attempt("psql-tcp", lambda: psql("-h", "127.0.0.1"))
    attempt("psql-socket", lambda: psql())
attempt("write-var-tmp", lambda: write("/var/tmp/TOKEN"))
attempt("write-etc", lambda: write("/etc/TOKEN"))
attempt("write-data-dir", lambda: write("DATA_DIR/TOKEN"))
attempt("write-project", lambda: write("PROJECT/TOKEN"))
attempt("env", env)
attempt("interfaces", lambda: ",".join(sorted(n for _, n in socket.if_nameindex())))
attempt("own-files", own_files)
"""

DENIED = "denied ("


# The same escapes must fail in a container: its images are the local ones (scripts/images.sh).
IMAGES = {
    "host": {"python": "python:3.11", "shell": "busybox"},
    "container": {"python": "localhost/ydp-python:3.11", "shell": "localhost/ydp-busybox:1"},
}
NO_PODMAN = "podman is not installed (scripts/setup.sh installs it on Debian)"


@pytest.fixture(
    scope="module",
    params=[
        "host",
        pytest.param(
            "container", marks=pytest.mark.skipif(not shutil.which("podman"), reason=NO_PODMAN)
        ),
    ],
)
def executor(request) -> str:
    if request.param == "container":
        done = subprocess.run(["bash", str(ROOT / "scripts" / "images.sh")], capture_output=True)
        assert done.returncode == 0, done.stderr
    return request.param


@pytest.fixture(scope="module")
def sandboxed(executor: str, swagger):
    """An engine with secrets in its environment and its data folder on the host's disk (not
    under /tmp, which every step replaces by its own)."""
    (ROOT / "var").mkdir(exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="test-sandbox-", dir=ROOT / "var"))
    env = {"DATABASE_URL": SECRET, "REDIS_URL": f"redis://:{MARK}@127.0.0.1:6379/0"}
    proc = EngineProcess(data, env=env, extra=["--executor", executor]).start()
    try:
        yield proc, Client(proc.url, swagger)
    finally:
        proc.stop()
        shutil.rmtree(data, ignore_errors=True)


def probe_workflow(engine: EngineProcess, token: str, executor: str) -> dict:
    images = IMAGES[executor]
    source = (
        PROBE.replace("ENGINE_PID", str(engine.proc.pid))
        .replace("HAS_PSQL", str(has_psql(executor)))
        .replace("DATA_DIR", str(engine.data))
        .replace("PROJECT", str(ROOT))
        .replace("TOKEN", token)
    )
    gen = container(
        "gen",
        "echo payload > /tmp/f",
        outputs={"artifacts": [{"name": "f", "path": "/tmp/f"}]},
    )
    gen["container"]["image"] = images["shell"]
    probe = {
        "name": "probe",
        "inputs": {
            "artifacts": [
                {"name": "f", "path": "/tmp/in/f"},
                {"name": "r", "path": "/tmp/raw", "raw": {"data": "rawdata"}},
            ]
        },
        "outputs": {"artifacts": [{"name": "report", "path": "/tmp/out/report.txt"}]},
        "script": {"image": images["python"], "command": ["python3"], "source": source},
    }
    steps = {
        "name": "main",
        "steps": [
            [{"name": "gen", "template": "gen"}],
            [
                {
                    "name": "probe",
                    "template": "probe",
                    "arguments": {
                        "artifacts": [{"name": "f", "from": "{{steps.gen.outputs.artifacts.f}}"}]
                    },
                }
            ],
        ],
    }
    return workflow("main", [steps, gen, probe], prefix="sandbox-")


def has_psql(executor: str) -> bool:
    """psql is in the step's world: the host's, never the local Python image."""
    return executor == "host" and shutil.which("psql") is not None


def outcomes(result: str) -> dict[str, str]:
    lines = [line.partition(": ") for line in result.splitlines()]
    return {name: outcome for name, _, outcome in lines}


def test_a_step_cannot_reach_secrets_database_or_host(sandboxed, executor: str) -> None:
    engine, api = sandboxed
    token = f"ydp-sandbox-{uuid.uuid4().hex[:8]}"
    wf = api.run(probe_workflow(engine, token, executor), timeout=90)
    nodes = {n["displayName"]: n for n in wf["status"]["nodes"].values()}
    probe = nodes["probe"]
    assert probe["phase"] == "Succeeded", probe
    seen = outcomes(probe["outputs"]["result"])
    expected = {
        "uid": "unprivileged",
        "proc-1-environ": "read, no secret",  # pid 1 is the step itself
        "proc-pids": "only its own",
        "engine-environ": DENIED,
        "shadow": DENIED,
        "tcp-5432": DENIED,
        "tcp-6379": DENIED,
        "unix-postgres": DENIED,
        "write-etc": DENIED,
        "write-data-dir": DENIED,
        "write-project": DENIED,
        "env": "clean",
        # /var/tmp is a private tmpfs: writable, and nothing reaches the host (checked below)
        "write-var-tmp": "written",
        "own-files": "ok rawdata",
    }
    if has_psql(executor):
        expected["psql-tcp"] = "refused"
        expected["psql-socket"] = "refused"
    failures = {
        name: seen.get(name, "<no line>")
        for name, want in expected.items()
        if not seen.get(name, "").startswith(want)
    }
    assert not failures, f"attempts that did not fail as they should: {failures}\n{seen}"
    assert len([n for n in expected if n in seen]) == len(expected)
    for folder in ("/var/tmp", "/etc", str(engine.data), str(ROOT)):
        assert not os.path.exists(os.path.join(folder, token)), f"the step wrote into {folder}"
    # its own network namespace: loopback (plus slirp4netns' tap0), never the host's interfaces
    interfaces = set(seen["interfaces"].split(","))
    host = {name for _, name in socket.if_nameindex()} - {"lo"}
    assert "lo" in interfaces and not (interfaces & host), seen["interfaces"]
    if shutil.which("slirp4netns"):
        assert "tap0" in interfaces
    # positive control: the step's output artifact, made from its input artifact, reaches us
    base = f"{api.base}/artifact-files/{NS}/workflows/{wf['metadata']['name']}/{probe['id']}"
    report = requests.get(f"{base}/outputs/report", timeout=10)
    assert report.content == b"report of payload"


def test_network_none_leaves_loopback_only(tmp_path, swagger) -> None:
    engine = EngineProcess(tmp_path / "engine", extra=["--step-network", "none"]).start()
    try:
        api = Client(engine.url, swagger)
        probe = 'python3 -c "import socket; print([n for _, n in socket.if_nameindex()])"'
        wf = api.run(workflow("main", [container("main", probe)]), timeout=60)
        assert wf["status"]["phase"] == "Succeeded", wf["status"]
        node = next(iter(wf["status"]["nodes"].values()))
        assert node["outputs"]["result"] == "['lo']"
    finally:
        engine.stop()


def test_an_unknown_step_user_stops_the_engine_with_one_line(tmp_path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ydpipelines.localargo",
            "--data",
            str(tmp_path),
            "--step-user",
            "no-such-user-here",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "localargo: step user 'no-such-user-here' does not exist on this machine"
    )


# Python ignores SIGPIPE and SIGXFSZ when it starts, and an ignored signal stays ignored across
# exec: the engine's Python must not hand that to a step. A pod's process starts with every
# signal at its default, so `yes | head -n 1` ends quietly there (yes is killed by SIGPIPE).
SIGNALS = """grep SigIgn /proc/self/status
yes | head -n 1
"""
SIGPIPE_BIT, SIGXFSZ_BIT = 1 << (13 - 1), 1 << (25 - 1)


def test_a_step_starts_with_every_signal_at_its_default(sandboxed, executor: str) -> None:
    _, api = sandboxed
    step = {
        "name": "signals",
        "script": {"image": IMAGES[executor]["shell"], "command": ["sh"], "source": SIGNALS},
    }
    wf = api.run(workflow("signals", [step], prefix="signals-"), timeout=60)
    node = next(n for n in wf["status"]["nodes"].values() if n["type"] == "Pod")
    assert node["phase"] == "Succeeded", node
    lines = node["outputs"]["result"].splitlines()
    ignored = int(lines[0].split()[1], 16)
    assert not ignored & SIGPIPE_BIT, f"SIGPIPE ignored in the step: {lines[0]}"
    assert not ignored & SIGXFSZ_BIT, f"SIGXFSZ ignored in the step: {lines[0]}"
    assert lines[1:] == ["y"]
