"""A step cannot make the engine (root) read host files through its outputs (confined.py).

Each workflow leaves a symlink where an output should be; the engine must refuse it (the step
errs, naming the path, nothing stored) or, inside a folder being archived, leave the link out.
The positive controls: a plain file and links that stay inside the output still work."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
import uuid
from pathlib import Path

import pytest
import requests

from tests.processes import EngineProcess
from ydpipelines.localargo.confined import Refused, open_output, resolve
from ydpipelines.localargo.volumes import Mount, StepFS

from .conftest import NS, Client, container, workflow

ROOT = Path(__file__).resolve().parents[2]


def one_step(script: str, artifacts=(), parameters=()) -> dict:
    outputs = {"artifacts": list(artifacts), "parameters": list(parameters)}
    return workflow("main", [container("main", script, outputs=outputs)], prefix="confined-")


def node_of(wf: dict) -> dict:
    return next(n for n in wf["status"]["nodes"].values() if n["type"] == "Pod")


def artifact_bytes(api, wf: dict, name: str) -> bytes:
    node = node_of(wf)
    url = f"{api.base}/artifact-files/{NS}/workflows/{wf['metadata']['name']}/{node['id']}"
    resp = requests.get(f"{url}/outputs/{name}", timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.content


@pytest.fixture(scope="module")
def engine(swagger):
    """Its own engine, with its data folder on the host's disk (not under /tmp, which every
    step replaces by its own)."""
    (ROOT / "var").mkdir(exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="test-confined-", dir=ROOT / "var"))
    proc = EngineProcess(data).start()
    try:
        yield proc
    finally:
        proc.stop()
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def api(engine, swagger) -> Client:
    return Client(engine.url, swagger)


@pytest.fixture(scope="module")
def refused(api, engine) -> dict[str, dict]:
    """Workflows whose one output leads out of the step, all run at once."""
    data = Path(engine.data).resolve()
    cases = {
        "file-to-shadow": one_step(
            "ln -s /etc/shadow /tmp/out", artifacts=[{"name": "a", "path": "/tmp/out"}]
        ),
        "param-to-environ": one_step(
            "ln -s /proc/1/environ /tmp/p",
            parameters=[{"name": "p", "valueFrom": {"path": "/tmp/p"}}],
        ),
        "to-data-dir": one_step(
            f"ln -s {data}/state /tmp/s", artifacts=[{"name": "a", "path": "/tmp/s"}]
        ),
        "dotdot": one_step(
            "mkdir -p /tmp/x && ln -s ../../../../../../../etc/passwd /tmp/x/up",
            artifacts=[{"name": "a", "path": "/tmp/x/up"}],
        ),
        "parent-is-link": one_step(
            "ln -s /etc /tmp/e", artifacts=[{"name": "a", "path": "/tmp/e/passwd"}]
        ),
        "optional-still-errs": one_step(
            "ln -s /etc/shadow /tmp/out",
            artifacts=[{"name": "a", "path": "/tmp/out", "optional": True}],
        ),
    }
    names = {case: api.create(wf)["metadata"]["name"] for case, wf in cases.items()}
    return {case: api.wait(name, timeout=90) for case, name in names.items()}


@pytest.mark.parametrize(
    ("case", "where", "leads_to"),
    [
        ("file-to-shadow", "outputs.artifacts.a", "/etc/shadow"),
        ("param-to-environ", "outputs.parameters.p", "/proc/1/environ"),
        ("to-data-dir", "outputs.artifacts.a", "DATA/state"),
        ("dotdot", "outputs.artifacts.a", "/etc/passwd"),
        ("parent-is-link", "outputs.artifacts.a", "/etc/passwd"),
        ("optional-still-errs", "outputs.artifacts.a", "/etc/shadow"),
    ],
)
def test_an_output_leading_out_of_the_step_errs_it(refused, engine, case, where, leads_to) -> None:
    wf = refused[case]
    leads_to = leads_to.replace("DATA", str(Path(engine.data).resolve()))
    node = node_of(wf)
    assert node["phase"] == "Error", node
    assert node["message"].startswith(f"{where}: "), node["message"]
    assert f"leads to {leads_to}, outside" in node["message"], node["message"]
    assert "outside the step's /tmp and volumes" in node["message"]
    assert "artifacts" not in node.get("outputs", {})
    assert "value" not in str(node.get("outputs", {}).get("parameters", ""))
    stored = Path(engine.data) / "artifacts" / wf["metadata"]["name"]
    assert not stored.exists() or not any(stored.rglob("*.tgz")), list(stored.rglob("*"))


def test_a_parameter_with_a_default_takes_it_as_argo_does(api) -> None:
    wf = api.run(
        one_step(
            "ln -s /etc/shadow /tmp/p",
            parameters=[{"name": "p", "valueFrom": {"path": "/tmp/p", "default": "none"}}],
        ),
        timeout=60,
    )
    node = node_of(wf)
    assert node["phase"] == "Succeeded", node
    assert node["outputs"]["parameters"][0]["value"] == "none"


def test_a_folder_keeps_inside_links_and_leaves_out_the_rest(api, engine) -> None:
    script = (
        "mkdir -p /tmp/d/sub && echo hi > /tmp/d/f && echo secret > /tmp/outside"
        " && ln -s /etc /tmp/d/etc && ln -s /etc/shadow /tmp/d/sub/shadow"
        " && ln -s ../outside /tmp/d/dotdot && ln -s f /tmp/d/rel"
        " && ln -s /tmp/d/f /tmp/d/sub/abs && ln -s /proc/1/environ /tmp/d/environ"
    )
    for archive in ({}, {"none": {}}):
        art = {"name": "d", "path": "/tmp/d", **({"archive": archive} if archive else {})}
        wf = api.run(one_step(script, artifacts=[art]), timeout=60)
        node = node_of(wf)
        assert node["phase"] == "Succeeded", node
        with tarfile.open(fileobj=io.BytesIO(artifact_bytes(api, wf, "d"))) as tar:
            members = {m.name.removeprefix("./"): m for m in tar.getmembers()}
            assert set(members) == {"d", "d/f", "d/rel", "d/sub", "d/sub/abs"}, members
            assert members["d/rel"].issym() and members["d/rel"].linkname == "f"
            # an absolute link inside the folder is kept, made relative
            assert members["d/sub/abs"].issym() and members["d/sub/abs"].linkname == "../f"
            assert tar.extractfile(members["d/f"]).read() == b"hi\n"
        logs = Path(engine.data) / "logs" / NS / wf["metadata"]["name"]
        log = "".join(p.read_text() for p in logs.glob("*.log"))
        assert "left out the link d/etc -> /etc" in log


def test_plain_files_and_inside_links_still_work(api) -> None:
    script = (
        "mkdir -p /tmp/o && printf data > /tmp/o/real.txt && ln -s real.txt /tmp/o/link.txt"
        " && ln -s /tmp/o/real.txt /tmp/abs && printf 42 > /tmp/n && ln -s n /tmp/nl"
    )
    wf = api.run(
        one_step(
            script,
            artifacts=[
                {"name": "plain", "path": "/tmp/o/real.txt"},
                {"name": "rel", "path": "/tmp/o/link.txt"},
                {"name": "abs", "path": "/tmp/abs"},
            ],
            parameters=[{"name": "n", "valueFrom": {"path": "/tmp/nl"}}],
        ),
        timeout=60,
    )
    node = node_of(wf)
    assert node["phase"] == "Succeeded", node
    for name in ("plain", "rel", "abs"):
        assert artifact_bytes(api, wf, name) == b"data"
    assert node["outputs"]["parameters"][0]["value"] == "42"


def test_a_link_swapped_in_after_resolving_is_not_followed(tmp_path) -> None:
    """A claim is shared with steps still running: a folder may become a link between the
    check and the read; the open, component by component without following, refuses it."""
    tmp = tmp_path / "tmp"
    (tmp / "d").mkdir(parents=True)
    (tmp / "d" / "f").write_text("mine")
    fs = StepFS(tmp=tmp)
    real = resolve(fs, "/tmp/d/f")
    assert real == "/tmp/d/f"
    os.rename(tmp / "d", tmp / "gone")
    os.symlink("/etc", tmp / "d")
    from ydpipelines.localargo.confined import open_inside

    with pytest.raises(Refused, match="a symbolic link appeared"):
        open_inside(fs, real, "/tmp/d/f")


def test_links_resolve_in_the_steps_view_of_its_volumes(tmp_path) -> None:
    """An absolute link names a path as the step sees it: /data is the claim's folder."""
    tmp, claim = tmp_path / "tmp", tmp_path / "claim"
    tmp.mkdir()
    claim.mkdir()
    (claim / "model.bin").write_bytes(b"weights")
    os.symlink("/data/model.bin", tmp / "m")
    os.symlink("/data/../etc/passwd", tmp / "escape")
    fs = StepFS(tmp=tmp, mounts=[Mount("/data", claim)])
    with open_output(fs, "/tmp/m") as out:
        assert out.read() == b"weights"
    with pytest.raises(Refused, match="leads to /etc"):
        open_output(fs, "/tmp/escape")
    with pytest.raises(FileNotFoundError):
        open_output(fs, "/tmp/missing")


def test_inputs_are_not_written_through_a_link_a_claim_kept(api) -> None:
    """The engine places inputs as root: a link left in a claim by an earlier step must not
    lead that write out of the step's files; a link inside the claim is followed."""
    target = f"/etc/ydp-confined-{uuid.uuid4().hex[:8]}"
    mount = {"volumeMounts": [{"name": "data", "mountPath": "/data"}]}
    plant = container(
        "plant", f"ln -sf {target} /data/in.txt; echo x > /data/real; ln -sf real /data/ok"
    )
    plant["container"].update(mount)
    use = container("use", "cat /data/ok")
    use["container"].update(mount)
    use["inputs"] = {
        "artifacts": [
            {"name": "a", "path": "/data/in.txt", "raw": {"data": "owned"}, "optional": True}
        ]
    }
    inside = container("inside", "cat /data/real")
    inside["container"].update(mount)
    inside["inputs"] = {"artifacts": [{"name": "a", "path": "/data/ok", "raw": {"data": "new"}}]}
    steps = {
        "name": "main",
        "steps": [
            [{"name": "plant", "template": "plant"}],
            [{"name": "inside", "template": "inside"}],
            [{"name": "use", "template": "use"}],
        ],
    }
    claim = {"name": "data", "persistentVolumeClaim": {"claimName": f"c-{uuid.uuid4().hex[:8]}"}}
    try:
        wf = api.run(workflow("main", [steps, plant, use, inside], volumes=[claim]), timeout=60)
        nodes = {n["displayName"]: n for n in wf["status"]["nodes"].values()}
        assert nodes["inside"]["phase"] == "Succeeded", nodes["inside"]
        assert nodes["inside"]["outputs"]["result"] == "new"
        assert nodes["use"]["phase"] == "Error", nodes["use"]
        assert f"/data/in.txt leads to {target}, outside" in nodes["use"]["message"]
        assert not os.path.lexists(target)
    finally:
        if os.path.lexists(target):
            os.unlink(target)
