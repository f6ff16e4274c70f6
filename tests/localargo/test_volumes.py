"""Volumes over real HTTP: emptyDir (disk and Memory), persistentVolumeClaim, volumeClaimTemplates,
secret and configMap volumes, mounted at any path inside the step's namespace without touching
the host's filesystem, and the refusals of what cannot map to this machine."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

import pytest
import requests
from hera.workflows import (
    Artifact,
    Container,
    EmptyDirVolume,
    ExistingVolume,
    NoneArchiveStrategy,
    Workflow,
)

from tests.processes import EngineProcess

from .conftest import NS, ApiFailure, Client, container, workflow


def uid() -> str:
    return uuid.uuid4().hex[:8]


def by_display(wf: dict) -> dict[str, dict]:
    return {n["displayName"]: n for n in wf["status"]["nodes"].values()}


NOTE = re.compile(r"image \S+ not used: the engine runs with --executor host$")


def log_lines(api: Client, name: str, pod: str = "") -> list[str]:
    params = {"podName": pod} if pod else {}
    resp = requests.get(f"{api.base}/api/v1/workflows/{NS}/{name}/log", params=params, timeout=10)
    assert resp.status_code == 200, resp.text
    lines = [json.loads(line)["result"]["content"] for line in resp.text.splitlines()]
    return [x for x in lines if not NOTE.match(x)]  # each step's note of its unused image


def test_elyra_node_volumes_shm_and_claims(api: Client, engine: EngineProcess) -> None:
    """The shape apps/pipelines/rendering.py gives an Elyra node (Hera's ExistingVolume and a
    Memory EmptyDirVolume at /dev/shm), at paths that do not exist on this machine."""
    claim, top, ro = f"models-{uid()}", f"/ydp-test-{uid()}", f"/mnt/ydp-ro-{uid()}"
    script = f"""
        df -k /dev/shm | tail -1 | awk '{{print "shm-kb", $2}}'
        if dd if=/dev/zero of=/dev/shm/big bs=1024 count=2048 2>/dev/null
        then echo shm-unbounded; else echo shm-full; fi
        echo hello > {top}/data/greeting
        mkdir -p {top}/data/out && echo 42 > {top}/data/out/answer
        if (echo x > {ro}/x) 2>/dev/null; then echo ro-writable; else echo ro-refused; fi
        cat {ro}/greeting
    """
    with Workflow(generate_name="elyra-vol-", entrypoint="node") as w:
        Container(
            name="node",
            image="python:3.11",
            command=["sh", "-c", script],
            volumes=[
                ExistingVolume(name="pvc-0", claim_name=claim, mount_path=f"{top}/data"),
                ExistingVolume(name="pvc-1", claim_name=claim, mount_path=ro, read_only=True),
                EmptyDirVolume(
                    name="shm", mount_path="/dev/shm", medium="Memory", size_limit="1Mi"
                ),
            ],
            outputs=[
                Artifact(name="out", path=f"{top}/data/out/answer", archive=NoneArchiveStrategy())
            ],
        )
    wf = api.run(w.to_dict(), timeout=60)
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    name = wf["metadata"]["name"]
    assert log_lines(api, name) == ["shm-kb 1024", "shm-full", "ro-refused", "hello"]
    # the claim is a folder of the engine's, shared with later workflows
    stored = engine.data / "volumes" / NS / claim
    assert (stored / "greeting").read_text() == "hello\n"
    node = by_display(wf)[name]
    art = requests.get(
        f"{api.base}/artifact-files/{NS}/workflows/{name}/{node['id']}/outputs/out", timeout=10
    )
    assert art.status_code == 200 and art.text == "42\n"
    # nothing was made on the host: not the new top-level folder, not the entry in /mnt
    assert not os.path.lexists(top) and not os.path.lexists(ro)
    assert not os.path.lexists("/dev/shm/big")

    reader = container("read", "cat /tmp/answers/answer && ls /tmp/answers")
    reader["container"]["volumeMounts"] = [
        {"name": "models", "mountPath": "/tmp/answers", "subPath": "out"}
    ]
    later = workflow(
        "read",
        [reader],
        volumes=[{"name": "models", "persistentVolumeClaim": {"claimName": claim}}],
    )
    again = api.run(later)
    assert again["status"]["phase"] == "Succeeded", again["status"]
    assert log_lines(api, again["metadata"]["name"]) == ["42", "answer"]


def test_empty_dir_is_per_step_shared_by_its_mounts(api: Client) -> None:
    top, wd = f"/ydp-scratch-{uid()}", f"/ydp-wd-{uid()}/work"
    mounts = [
        {"name": "scratch", "mountPath": top},
        {"name": "scratch", "mountPath": "/tmp/alias"},
        {"name": "mem", "mountPath": f"{top}/mem"},
    ]
    write = {
        "name": "write",
        "container": {
            "image": "busybox",
            "command": ["sh", "-c"],
            "args": [f"pwd; echo one > {top}/f; cat /tmp/alias/f; echo m > {top}/mem/m"],
            "workingDir": wd,
            "volumeMounts": mounts,
        },
        "outputs": {
            "parameters": [{"name": "v", "valueFrom": {"path": f"{top}/f"}}],
            # under a Memory emptyDir: kept on disk so the engine can collect it
            "artifacts": [{"name": "m", "path": f"{top}/mem/m", "archive": {"none": {}}}],
        },
    }
    check = container("check", f"ls -A {top}; ls -A /tmp/alias; echo done")
    check["container"]["volumeMounts"] = mounts[:2]
    steps = {
        "name": "main",
        "steps": [
            [{"name": "write", "template": "write"}],
            [{"name": "check", "template": "check"}],
        ],
    }
    volumes = [
        {"name": "scratch", "emptyDir": {}},
        {"name": "mem", "emptyDir": {"medium": "Memory"}},
    ]
    wf = api.run(workflow("main", [steps, write, check], volumes=volumes))
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    nodes = by_display(wf)
    assert nodes["write"]["outputs"]["parameters"][0]["value"] == "one"
    assert log_lines(api, wf["metadata"]["name"], nodes["write"]["id"]) == [wd, "one"]
    assert log_lines(api, wf["metadata"]["name"], nodes["check"]["id"]) == ["done"]  # fresh
    art = requests.get(
        f"{api.base}/artifact-files/{NS}/workflows/{wf['metadata']['name']}"
        f"/{nodes['write']['id']}/outputs/m",
        timeout=10,
    )
    assert art.text == "m\n"
    assert not os.path.lexists(top) and not os.path.lexists(os.path.dirname(wd))


def test_volume_claim_templates_live_with_the_workflow(api: Client, engine: EngineProcess) -> None:
    gen = container("gen", "echo hello world > /mnt/vol/hello.txt")
    show = container("show", "cat /mnt/vol/hello.txt")
    for t in (gen, show):
        t["container"]["volumeMounts"] = [{"name": "workdir", "mountPath": "/mnt/vol"}]
    steps = {
        "name": "main",
        "steps": [[{"name": "gen", "template": "gen"}], [{"name": "show", "template": "show"}]],
    }
    vct = [{"metadata": {"name": "workdir"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]
    wf = api.run(workflow("main", [steps, gen, show], volumeClaimTemplates=vct))
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    name = wf["metadata"]["name"]
    assert log_lines(api, name, by_display(wf)["show"]["id"]) == ["hello world"]
    # volumeClaimGC's default (OnWorkflowSuccess): the claim went with the workflow's success
    assert not (engine.data / "volumes" / NS / f"{name}-workdir").exists()


def test_secret_and_config_map_volumes(api: Client, engine: EngineProcess) -> None:
    secret, config = f"creds-{uid()}", f"conf-{uid()}"
    folder = engine.data / "secrets" / NS / secret
    folder.mkdir(parents=True)
    (folder / "password").write_text("s3cr3t")
    (folder / "user").write_text("ada")
    api.call(
        "PUT", f"/api/v1/localargo/configmaps/{NS}/{config}", json={"data": {"app.conf": "x=1"}}
    )
    script = (
        "cat /etc/ydp-secret/password; echo; ls /etc/ydp-secret; "
        "cat /etc/ydp-conf/nested/app.conf; echo; stat -c %a /etc/ydp-conf/nested/app.conf; "
        "if touch /etc/ydp-secret/new 2>/dev/null; then echo writable; else echo read-only; fi"
    )
    main = container("main", script)
    main["container"]["volumeMounts"] = [
        {"name": "s", "mountPath": "/etc/ydp-secret"},
        {"name": "c", "mountPath": "/etc/ydp-conf"},
    ]
    volumes = [
        {"name": "s", "secret": {"secretName": secret}},
        {
            "name": "c",
            "configMap": {
                "name": config,
                "items": [{"key": "app.conf", "path": "nested/app.conf", "mode": 0o600}],
            },
        },
    ]
    wf = api.run(workflow("main", [main], volumes=volumes))
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    lines = log_lines(api, wf["metadata"]["name"])
    assert lines == ["s3cr3t", "password", "user", "x=1", "600", "read-only"]
    assert not os.path.lexists("/etc/ydp-secret")

    missing = container("main", "true")
    missing["container"]["volumeMounts"] = [{"name": "s", "mountPath": "/tmp/s"}]
    wf = api.run(
        workflow("main", [missing], volumes=[{"name": "s", "secret": {"secretName": "absent"}}])
    )
    assert wf["status"]["phase"] == "Error"
    node = by_display(wf)[wf["metadata"]["name"]]
    assert "secret absent not found" in node["message"]
    assert str(engine.data / "secrets" / NS / "absent") in node["message"]
    optional = workflow(
        "main",
        [missing],
        volumes=[{"name": "s", "secret": {"secretName": "absent", "optional": True}}],
    )
    assert api.run(optional)["status"]["phase"] == "Succeeded"


UNSUPPORTED_MOUNT = "unsupported: spec.templates[0].container.volumeMounts[0].mountPath"


def mounted(path: str, **extra) -> dict:
    main = container("main", "true")
    main["container"]["volumeMounts"] = [{"name": "v", "mountPath": path, **extra}]
    return main


@pytest.mark.parametrize(
    ("templates", "volumes", "expected"),
    [
        (
            [mounted("/x")],
            [{"name": "v", "hostPath": {"path": "/x"}}],
            "unsupported: spec.volumes[0].hostPath",
        ),
        (
            [mounted("/x")],
            [{"name": "v", "nfs": {"server": "s"}}],
            "unsupported: spec.volumes[0].nfs",
        ),
        (
            [mounted("/usr")],
            [{"name": "v", "emptyDir": {}}],
            f"{UNSUPPORTED_MOUNT} (/usr would hide /usr",
        ),
        (
            [mounted("/proc/ydp")],
            [{"name": "v", "emptyDir": {}}],
            f"{UNSUPPORTED_MOUNT} (/proc/ydp would need a new entry in /proc",
        ),
        (
            [mounted("/data", subPath="../up")],
            [{"name": "v", "emptyDir": {}}],
            "spec.templates[0].container.volumeMounts[0].subPath: subPath ../up must not "
            "contain '..'",
        ),
        (
            [mounted("/data")],
            [{"name": "v", "emptyDir": {"medium": "HugePages"}}],
            "unsupported: spec.volumes[0].emptyDir.medium",
        ),
        (
            [mounted("/data")],
            [{"name": "../v", "emptyDir": {}}],
            "spec.volumes[0].name '../v' is not a valid name",
        ),
        (
            [mounted("/data")],
            [{"name": "v", "persistentVolumeClaim": {"claimName": "../etc"}}],
            "spec.volumes[0].persistentVolumeClaim.claimName '../etc' is not a valid name",
        ),
        (
            [
                {
                    **mounted("/data"),
                    "outputs": {"artifacts": [{"name": "o", "path": "/elsewhere/o"}]},
                }
            ],
            [{"name": "v", "emptyDir": {}}],
            "unsupported: spec.templates[0].outputs.artifacts[0].path (/elsewhere/o is outside "
            "/tmp and the template's volume mounts",
        ),
    ],
)
def test_volumes_that_cannot_map_are_refused(api: Client, templates, volumes, expected) -> None:
    with pytest.raises(ApiFailure) as err:
        api.create(workflow("main", templates, volumes=volumes))
    assert err.value.status == 400
    assert err.value.body["message"].startswith(expected), err.value.body["message"]


def test_template_volumes_and_unknown_volume_names(api: Client) -> None:
    main = mounted("/tmp/ydp-t")
    main["volumes"] = [{"name": "v", "emptyDir": {}}]
    main["container"]["args"] = ["echo in > /tmp/ydp-t/f && cat /tmp/ydp-t/f"]
    wf = api.run(workflow("main", [main]))
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    assert log_lines(api, wf["metadata"]["name"]) == ["in"]
    unknown = api.run(workflow("main", [mounted("/tmp/nowhere")]))
    assert unknown["status"]["phase"] == "Error"
    message = by_display(unknown)[unknown["metadata"]["name"]]["message"]
    assert "volumeMounts[0]: no volume named 'v'" in message


def test_host_paths_stay_untouched(api: Client) -> None:
    """A step writing into its new mount points leaves the host's root and /mnt as they were."""
    before_root, before_mnt = sorted(os.listdir("/")), sorted(os.listdir("/mnt"))
    main = mounted(f"/mnt/ydp-{uid()}/deep/er")
    main["container"]["args"] = ["ls / > /dev/null && ls /mnt"]
    wf = api.run(workflow("main", [main], volumes=[{"name": "v", "emptyDir": {}}]))
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    # the step saw the host's /mnt entries plus its own
    lines = log_lines(api, wf["metadata"]["name"])
    assert set(before_mnt) <= set(lines) and len(lines) == len(before_mnt) + 1
    assert sorted(os.listdir("/")) == before_root and sorted(os.listdir("/mnt")) == before_mnt
    assert Path("/mnt").is_dir()
