"""The container executor's step cache (read-only to steps, written by the engine's fill step)
and GPUs through CDI: real Podman, local images, an engine subprocess driven over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import Client, EngineProcess, workflow
from .test_containers import (  # noqa: F401
    PYTHON,
    ROOT,
    box,
    images,
    log_of,
    pytestmark,
    wait_for,
)

# pip in the fill step fails at once: no package index answers here (no network needed)
NO_INDEX = {"PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_RETRIES": "0", "PIP_TIMEOUT": "3"}


def fake_gpus(folder: Path) -> Path:
    """A CDI spec of two fake NVIDIA GPUs (this machine has none): CDI lets a device's edits
    only set env vars and mount a file, which is what each one does; ``all`` and a second name
    of GPU 0 (by UUID, as nvidia-ctk writes it) are not GPUs of their own."""
    specs = folder / "cdi"
    specs.mkdir()
    devices = []
    for index in ("0", "1"):
        card = folder / f"card{index}"
        card.write_text(f"fake gpu {index}\n")
        devices.append(
            {
                "name": index,
                "containerEdits": {
                    "env": [f"YDP_FAKE_GPU={index}"],
                    "mounts": [
                        {
                            "hostPath": str(card),
                            "containerPath": f"/run/ydp-gpu{index}",
                            "options": ["ro", "bind"],
                        }
                    ],
                },
            }
        )
    devices.append({"name": "GPU-ydp-uuid-0", "containerEdits": devices[0]["containerEdits"]})
    devices.append({"name": "all", "containerEdits": {"env": ["YDP_FAKE_GPU=all"]}})
    spec = {"cdiVersion": "0.5.0", "kind": "nvidia.com/gpu", "devices": devices}
    (specs / "ydp-fake-gpus.json").write_text(json.dumps(spec))
    return specs


@pytest.fixture(scope="module")
def engine(tmp_path_factory, images):  # noqa: F811
    data = tmp_path_factory.mktemp("cache-gpus")
    proc = EngineProcess(
        data / "engine",
        extra=["--executor", "container", "--capacity-cpu", "2", "--cdi-spec-dir"],
        env=NO_INDEX,
    )
    proc.extra.append(str(fake_gpus(data)))
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def api(engine, swagger) -> Client:
    return Client(engine.url, swagger)


def pods(wf: dict) -> dict[str, dict]:
    return {n["displayName"]: n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"}


@pytest.mark.slow
def test_a_step_cannot_write_the_step_cache(api: Client, engine: EngineProcess) -> None:
    cache = engine.data / "cache"
    runner = (ROOT / "ydpipelines" / "steprunner.py").read_bytes()
    assert (cache / "bootstrap" / "steprunner.py").read_bytes() == runner
    poison = box(
        "poison",
        'echo evil > "$YDP_CACHE_DIR/notebook-tools/papermill.py"; a=$?; '
        'echo evil > "$YDP_CACHE_DIR/bootstrap/steprunner.py"; b=$?; '
        'mkdir "$YDP_CACHE_DIR/x"; c=$?; exit $((a + b + c))',
    )
    check = box(
        "check",
        "cd $YDP_CACHE_DIR; ls -A notebook-tools; head -c 22 bootstrap/steprunner.py",
    )
    main = {
        "name": "main",
        "steps": [
            [{"name": "poison", "template": "poison", "continueOn": {"failed": True}}],
            [{"name": "check", "template": "check"}],
        ],
    }
    wf = api.run(workflow("main", [main, poison, check]), timeout=60)
    nodes = pods(wf)
    assert nodes["poison"]["phase"] == "Failed", nodes["poison"]
    said = log_of(api.base, wf["metadata"]["name"], nodes["poison"]["id"])
    assert said.count("Read-only file system") == 3, said
    # the next step sees the cache as the engine left it
    assert nodes["check"]["phase"] == "Succeeded", nodes["check"]
    assert nodes["check"]["outputs"]["result"] == "#!/usr/bin/env python3"
    assert not (cache / "notebook-tools" / "papermill.py").exists()
    assert not (cache / "x").exists()
    assert (cache / "bootstrap" / "steprunner.py").read_bytes() == runner


MAKE_BUNDLE = """
import json, zipfile
nb = {"cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
      "source": "print(6 * 7)"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
with zipfile.ZipFile("/b/bundle.zip", "w") as z:
    z.writestr("n.ipynb", json.dumps(nb))
"""


@pytest.mark.slow
def test_the_fill_step_writes_the_cache_and_the_step_does_not(
    api: Client, engine: EngineProcess
) -> None:
    """A notebook step in an image without papermill: before it, the engine's fill step (its
    own step runner, in the step's image) installs into the cache, the only one that may; here
    pip finds no index, so the fill fails and the step, finding the read-only cache without the
    tools, tries for itself in its own /tmp (and fails the same way, saying so)."""
    bundle = {"name": "b", "persistentVolumeClaim": {"claimName": "notebook-bundle"}}
    make = {
        "name": "make",
        "script": {
            "image": PYTHON,
            "command": ["python3"],
            "source": MAKE_BUNDLE,
            "volumeMounts": [{"name": "b", "mountPath": "/b"}],
        },
    }
    notebook = {
        "name": "nb",
        "container": {
            "image": PYTHON,
            "command": ["python3", "/var/cache/ydp/bootstrap/steprunner.py"],
            "args": ["--kind", "notebook", "--file", "n.ipynb", "--bundle", "/b/bundle.zip"],
            "volumeMounts": [{"name": "b", "mountPath": "/b"}],
            # the step's own pip finds no index either (the fill step has the engine's)
            "env": [{"name": k, "value": v} for k, v in NO_INDEX.items()],
        },
    }
    main = {
        "name": "main",
        "steps": [[{"name": "make", "template": "make"}], [{"name": "nb", "template": "nb"}]],
    }
    wf = api.run(workflow("main", [main, make, notebook], volumes=[bundle]), timeout=180)
    node = pods(wf)["nb"]
    said = log_of(api.base, wf["metadata"]["name"], node["id"])
    assert node["phase"] == "Failed", (node, said)
    fill = said.index("installing papermill nbconvert ipykernel with pip into /var/cache/ydp/")
    ended = said.index("the step cache's fill step ended with exit code 2")
    own = said.index("the step cache /var/cache/ydp is read-only and lacks them")
    assert fill < ended < own, said
    assert "installing papermill nbconvert ipykernel with pip into /tmp/ydp/" in said[own:]
    # the fill step could write (its lock), and left nothing half-installed behind
    tools = engine.data / "cache" / "notebook-tools"
    left = sorted(p.name for p in tools.iterdir())
    assert len(left) == 1 and left[0].startswith("cpython-311-") and left[0].endswith(".lock")


def gpu_step(name: str, count: int, script: str) -> dict:
    step = box(name, script)
    step["container"]["resources"] = {"limits": {"nvidia.com/gpu": str(count)}}
    return step


def test_gpu_steps_get_their_own_cdi_devices_and_wait_for_a_free_one(api: Client) -> None:
    """Three steps of one GPU each on a machine of two: two run at once, each with its own
    device (its env var and its file), the third waits Pending in Kubernetes' words."""
    see = 'echo "$YDP_FAKE_GPU $(cat /run/ydp-gpu*) $(cut -d" " -f1 /proc/uptime)"; sleep 2'
    tasks = [{"name": n, "template": n} for n in ("a", "b", "c")]
    plain = box("plain", 'echo "gpu=${YDP_FAKE_GPU:-none}"; ls /run | grep -c ydp-gpu || true')
    dag = {"name": "main", "dag": {"tasks": [*tasks, {"name": "plain", "template": "plain"}]}}
    steps = [gpu_step(n, 1, see) for n in ("a", "b", "c")]
    name = api.create(workflow("main", [dag, *steps, plain]))["metadata"]["name"]
    waiting = wait_for(
        lambda: [
            n
            for n in api.get(name)["status"]["nodes"].values()
            if "Insufficient nvidia.com/gpu" in n.get("message", "")
        ],
        60,
    )
    assert waiting and waiting[0]["phase"] == "Pending", waiting
    assert waiting[0]["message"].startswith(
        "Unschedulable: 0/1 nodes are available: 1 Insufficient nvidia.com/gpu. "
        "(nvidia.com/gpu: requested 1, free 0)"
    )
    wf = api.wait(name, timeout=90)
    nodes = pods(wf)
    assert wf["status"]["phase"] == "Succeeded", nodes
    seen = {n: nodes[n]["outputs"]["result"].split() for n in ("a", "b", "c")}
    assert {v[0] for v in seen.values()} == {"0", "1"}, seen  # only the two GPUs, never "all"
    assert all(v[1:4] == ["fake", "gpu", v[0]] for v in seen.values()), seen  # its own file
    assert nodes["plain"]["outputs"]["result"] == "gpu=none\n0"
    # the third started after one of the first two ended and gave its GPU back
    starts = sorted((float(v[4]), n) for n, v in seen.items())
    first_end = min(float(seen[n][4]) for _, n in starts[:2]) + 2
    assert float(starts[2][0]) >= first_end - 0.5, seen


def test_a_step_asking_more_gpus_than_the_machine_has_fails_at_once(api: Client) -> None:
    wf = api.run(workflow("main", [gpu_step("main", 3, "true")]), timeout=30)
    node = next(iter(pods(wf).values()))
    assert node["phase"] == "Error", node
    assert node["message"] == (
        "Unschedulable: 0/1 nodes are available: 1 Insufficient nvidia.com/gpu. "
        "(nvidia.com/gpu: requested 3, the machine has 2: it can never run here)"
    )
