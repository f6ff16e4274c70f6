"""The container executor (containers.py): real Podman, local images (scripts/images.sh), an
engine subprocess driven over HTTP. Skipped, with the reason, where podman is absent."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.processes import EngineProcess
from ydpipelines.localargo.containers import ulimits

from .conftest import NS, Client, workflow

ROOT = Path(__file__).resolve().parents[2]
BUSYBOX = "localhost/ydp-busybox:1"
PYTHON = "localhost/ydp-python:3.11"
LABEL = "io.ydpipelines.engine"

pytestmark = pytest.mark.skipif(
    shutil.which("podman") is None,
    reason="podman is not installed (scripts/setup.sh installs it on Debian)",
)


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    runtime = ["--runtime", "runc"] if shutil.which("runc") else []
    return subprocess.run(
        ["podman", *runtime, *args], capture_output=True, text=True, timeout=120, check=check
    )


@pytest.fixture(scope="session")
def images() -> None:
    """The local images, built when missing or when their recipe changed (~90 s the first
    time, for the Python one)."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "images.sh")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def engine(tmp_path_factory, images):
    proc = EngineProcess(
        tmp_path_factory.mktemp("containers"),
        extra=["--executor", "container", "--capacity-cpu", "2"],
    ).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def api(engine, swagger) -> Client:
    return Client(engine.url, swagger)


def box(name: str, script: str, image: str = BUSYBOX, **extra) -> dict:
    return {
        "name": name,
        "container": {"image": image, "command": ["sh", "-c"], "args": [script]},
        **extra,
    }


def only_node(wf: dict) -> dict:
    pods = [n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"]
    assert len(pods) == 1, wf["status"]["nodes"]
    return pods[0]


def containers_of(engine_label: str | None = None) -> list[str]:
    args = ["ps", "-a", "--format", "{{.Names}}"]
    if engine_label:
        args += ["--filter", f"label={LABEL}={engine_label}"]
    return podman(*args).stdout.split()


def engine_label(engine: EngineProcess) -> str:
    import hashlib

    return hashlib.sha1(str(Path(engine.data).resolve()).encode()).hexdigest()[:12]


def test_a_step_runs_in_its_image(api: Client) -> None:
    # /etc/ydp-image exists only in the busybox image (the host has none)
    assert not Path("/etc/ydp-image").exists()
    wf = api.run(workflow("main", [box("main", "cat /etc/ydp-image; id -u")]), timeout=60)
    node = only_node(wf)
    assert wf["status"]["phase"] == "Succeeded", node
    assert node["outputs"]["result"] == "busybox-image\n65534"
    assert "message" not in node  # no "ran its command on the host" note


def test_env_volumes_and_artifacts_pass(api: Client, engine: EngineProcess) -> None:
    secret = engine.data / "secrets" / NS / "creds"
    secret.mkdir(parents=True, exist_ok=True)
    (secret / "token").write_text("t0ken")
    gen = box(
        "gen",
        'echo "$GREETING from $(hostname)" > /tmp/out.txt; echo shared > /data/claim.txt; '
        "cat /etc/creds/token > /tmp/token.txt",
        outputs={
            "artifacts": [{"name": "out", "path": "/tmp/out.txt"}],
            "parameters": [{"name": "token", "valueFrom": {"path": "/tmp/token.txt"}}],
        },
    )
    gen["container"]["env"] = [{"name": "GREETING", "value": "hello world\nline two"}]
    gen["container"]["volumeMounts"] = [
        {"name": "work", "mountPath": "/data"},
        {"name": "creds", "mountPath": "/etc/creds", "readOnly": True},
    ]
    use = box(
        "use",
        "cat /in/out.txt; cat /data/claim.txt; pwd; touch /etc/creds/x 2>/dev/null || echo ro",
        inputs={"artifacts": [{"name": "out", "path": "/in/out.txt"}]},
    )
    use["container"]["workingDir"] = "/data"
    use["container"]["volumeMounts"] = [
        {"name": "work", "mountPath": "/data"},
        {"name": "creds", "mountPath": "/etc/creds", "readOnly": True},
        {"name": "in", "mountPath": "/in"},
    ]
    main = {
        "name": "main",
        "steps": [
            [{"name": "gen", "template": "gen"}],
            [
                {
                    "name": "use",
                    "template": "use",
                    "arguments": {
                        "artifacts": [
                            {"name": "out", "from": "{{steps.gen.outputs.artifacts.out}}"}
                        ]
                    },
                }
            ],
        ],
    }
    wf = workflow(
        "main",
        [main, gen, use],
        volumes=[
            {"name": "work", "persistentVolumeClaim": {"claimName": "shared-work"}},
            {"name": "creds", "secret": {"secretName": "creds"}},
            {"name": "in", "emptyDir": {}},
        ],
    )
    done = api.run(wf, timeout=90)
    nodes = {n["displayName"]: n for n in done["status"]["nodes"].values()}
    assert done["status"]["phase"] == "Succeeded", nodes
    token = nodes["gen"]["outputs"]["parameters"][0]
    assert token["value"] == "t0ken"
    lines = nodes["use"]["outputs"]["result"].splitlines()
    assert lines[0] == "hello world"
    assert lines[1].startswith("line two from ") and lines[1] != "line two from "
    assert lines[2:] == ["shared", "/data", "ro"]
    # the claim's folder on the host holds what the step wrote
    assert (engine.data / "volumes" / NS / "shared-work" / "claim.txt").read_text() == "shared\n"


def test_a_python_image_runs_a_script_template(api: Client) -> None:
    tmpl = {
        "name": "main",
        "script": {
            "image": PYTHON,
            "command": ["python3"],
            "source": "import sys, os\nprint(sys.version_info[:2], os.environ['HOME'])",
        },
    }
    wf = api.run(workflow("main", [tmpl]), timeout=60)
    node = only_node(wf)
    assert wf["status"]["phase"] == "Succeeded", node
    assert node["outputs"]["result"] == "(3, 11) /tmp"


def test_a_memory_limit_kills_as_oomkilled(api: Client) -> None:
    tmpl = {
        "name": "main",
        "script": {
            "image": PYTHON,
            "command": ["python3"],
            "source": "data = bytearray(200 * 1024 * 1024)\nprint('survived', len(data))",
            "resources": {"limits": {"memory": "64Mi"}},
        },
    }
    wf = api.run(workflow("main", [tmpl]), timeout=90)
    node = only_node(wf)
    assert wf["status"]["phase"] == "Failed", node
    assert node["phase"] == "Failed"
    assert node["message"].startswith("OOMKilled (exit code 137)"), node["message"]
    assert "64Mi" in node["message"]
    assert node["outputs"]["exitCode"] == "137"


def test_a_plain_exit_137_is_not_oomkilled(api: Client) -> None:
    tmpl = box("main", "kill -9 $$")
    tmpl["container"]["resources"] = {"limits": {"memory": "64Mi"}}
    wf = api.run(workflow("main", [tmpl]), timeout=60)
    node = only_node(wf)
    assert node["phase"] == "Failed"
    assert node["message"] == "Error (exit code 137)"


def test_cpus_are_passed_and_terminate_removes_the_container(
    api: Client, engine: EngineProcess
) -> None:
    tmpl = box("main", "sleep 300")
    tmpl["container"]["resources"] = {
        "requests": {"cpu": "250m", "memory": "32Mi"},
        "limits": {"cpu": "500m", "memory": "128Mi"},
    }
    name = api.create(workflow("main", [tmpl]))["metadata"]["name"]
    label = engine_label(engine)
    # an earlier test's ended container may still be on its way out (removed after its end)
    found = wait_for(lambda: [c for c in containers_of(label) if c.startswith(name)], 30)
    assert len(found) == 1, found
    info = json.loads(podman("inspect", found[0]).stdout)[0]
    assert info["HostConfig"]["NanoCpus"] == 500_000_000
    assert info["HostConfig"]["Memory"] == 128 * 1024 * 1024
    assert info["Config"]["Labels"]["workflows.argoproj.io/workflow"] == name
    assert info["HostConfig"]["ReadonlyRootfs"] is True
    assert info["HostConfig"]["NetworkMode"] in ("slirp4netns", "none")
    started = time.time()
    api.call("PUT", f"/api/v1/workflows/{NS}/{name}/terminate", json={})
    wf = api.wait(name, timeout=30)
    assert wf["status"]["phase"] == "Failed"
    assert wait_for(lambda: not containers_of(label), 30), containers_of(label)
    assert time.time() - started < 20


def test_a_deadline_removes_the_container(api: Client, engine: EngineProcess) -> None:
    tmpl = box("main", "trap '' TERM; sleep 300", activeDeadlineSeconds=2)
    wf = api.run(workflow("main", [tmpl]), timeout=60)
    node = only_node(wf)
    assert node["phase"] == "Failed"
    assert "deadline" in node["message"]
    assert wait_for(lambda: not containers_of(engine_label(engine)), 30)


def test_an_unknown_image_fails_as_errimagepull(api: Client) -> None:
    wf = api.run(workflow("main", [box("main", "true", image="localhost/no-such:9")]))
    node = only_node(wf)
    assert node["phase"] == "Error"
    assert "ErrImagePull" in node["message"] and "ImagePullBackOff" in node["message"]
    assert "localhost/no-such:9" in node["message"]


def log_of(base: str, name: str, pod: str) -> str:
    resp = requests.get(
        f"{base}/api/v1/workflows/{NS}/{name}/log",
        params={"logOptions.container": "main", "podName": pod},
        timeout=30,
    )
    return "".join(
        json.loads(line)["result"]["content"] + "\n" for line in resp.text.splitlines() if line
    )


def test_an_engine_restart_takes_back_its_running_containers(tmp_path, swagger, images) -> None:
    first = EngineProcess(tmp_path / "e", extra=["--executor", "container"]).start()
    api = Client(first.url, swagger)
    out = {"artifacts": [{"name": "out", "path": "/tmp/out"}]}
    # one ends while the engine is down, the other after it is back
    names = {}
    for sleep in (1, 6):
        script = (
            f"echo before; sleep {sleep}; echo after; echo err >&2; echo done-{sleep} > /tmp/out"
        )
        tmpl = box("main", script, outputs=out)
        names[sleep] = api.create(workflow("main", [tmpl]))["metadata"]["name"]
    for name in names.values():
        assert wait_for(lambda n=name: "before" in log_of(first.url, n, n), 30), name
    label = engine_label(first)
    first.kill9()  # `podman run` dies with the engine; its container does not
    # a container of this engine that no live workflow owns (a deleted workflow's)
    podman(
        *("run", "-d", "--name", f"stray-{label}", "--label", f"{LABEL}={label}"),
        *("--label", "workflows.argoproj.io/workflow=gone", "--entrypoint", "sleep"),
        *ulimits(),
        "--network",
        "none",
        *(BUSYBOX, "300"),
    )
    time.sleep(2)
    second = EngineProcess(tmp_path / "e", extra=["--executor", "container"]).start()
    try:
        api = Client(second.url, swagger)
        assert f"stray-{label}" not in containers_of(label)
        for sleep, name in names.items():
            wf = api.wait(name, timeout=60)
            node = only_node(wf)
            assert node["phase"] == "Succeeded", node
            assert node["outputs"]["result"] == "before\nafter"
            assert log_of(second.url, name, node["id"]) == "before\nafter\nerr\n"
            art = requests.get(
                f"{second.url}/artifact-files/{NS}/workflows/{name}/{node['id']}/outputs/out",
                timeout=10,
            )
            assert art.content == f"done-{sleep}\n".encode()
        assert wait_for(lambda: not containers_of(label), 30), containers_of(label)
    finally:
        second.stop()


def test_the_engine_refuses_a_runtime_it_cannot_find(tmp_path) -> None:
    done = subprocess.run(
        [
            str(Path(ROOT / ".venv/bin/python")),
            "-m",
            "ydpipelines.localargo",
            "--data",
            str(tmp_path),
            "--executor",
            "container",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "YDP_CONTAINER_CLI": "no-such-cli"},
    )
    assert done.returncode == 2
    assert done.stderr.startswith("localargo: --executor container: no container runtime")


def wait_for(check, seconds: float):
    deadline = time.time() + seconds
    while True:
        value = check()
        if value or time.time() > deadline:
            return value
        time.sleep(0.2)


def test_logs_stream_from_the_container(api: Client) -> None:
    wf = api.run(workflow("main", [box("main", "echo out; echo err >&2")]), timeout=60)
    node = only_node(wf)
    name = wf["metadata"]["name"]
    pod = node["id"]
    resp = requests.get(
        f"{api.base}/api/v1/workflows/{NS}/{name}/log",
        params={"logOptions.container": "main", "podName": pod},
        timeout=30,
    )
    text = "".join(
        json.loads(line)["result"]["content"] + "\n" for line in resp.text.splitlines() if line
    )
    assert "out\n" in text and "err\n" in text


def test_steps_are_admitted_against_the_capacity(api: Client) -> None:
    def big(name: str) -> dict:
        tmpl = box(name, "cut -d' ' -f1 /proc/uptime; sleep 1; cut -d' ' -f1 /proc/uptime")
        tmpl["container"]["resources"] = {"requests": {"cpu": "1.5"}}
        return tmpl

    tasks = [{"name": n, "template": n} for n in ("a", "b")]
    dag = {"name": "main", "dag": {"tasks": tasks}}
    name = api.create(workflow("main", [dag, big("a"), big("b")]))["metadata"]["name"]
    waiting = wait_for(
        lambda: [
            n
            for n in api.get(name)["status"]["nodes"].values()
            if n["type"] == "Pod" and "Insufficient cpu" in n.get("message", "")
        ],
        30,
    )
    assert waiting and waiting[0]["phase"] == "Pending", waiting
    assert waiting[0]["message"].startswith(
        "Unschedulable: 0/1 nodes are available: 1 Insufficient cpu. (cpu: requested 1.5, free 0.5"
    )
    wf = api.wait(name, timeout=60)
    assert wf["status"]["phase"] == "Succeeded"
    spans = sorted(
        tuple(float(t) for t in n["outputs"]["result"].split())
        for n in wf["status"]["nodes"].values()
        if n["type"] == "Pod"
    )
    assert spans[1][0] >= spans[0][1], spans


def test_tty_true_runs_the_container_with_a_terminal(api: Client) -> None:
    """`tty: true`, as in a pod: stdin and stdout are a terminal (its log lines end in CRLF)."""
    probe = "[ -t 0 ] && echo in-tty; [ -t 1 ] && echo out-tty; true"
    main = {
        "name": "main",
        "steps": [[{"name": "t", "template": "t"}, {"name": "n", "template": "n"}]],
    }
    t, n = box("t", probe), box("n", probe)
    t["container"]["tty"] = True
    wf = api.run(workflow("main", [main, t, n]), timeout=90)
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    nodes = {x["displayName"]: x for x in wf["status"]["nodes"].values()}
    assert nodes["t"]["outputs"]["result"].replace("\r", "") == "in-tty\nout-tty"
    assert nodes["n"]["outputs"]["result"] == ""
