"""Drafts through their views: create (blank, loose files, a version), save with optimistic
concurrency, files, the importer's check placed on nodes, and "Save as version" through the
upload path (the version equals an upload of the same zip)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from django.urls import reverse

from apps.editor.models import Draft, DraftFile
from apps.pipelines.bundles import bundle_signature
from apps.pipelines.models import Pipeline, PipelineVersion
from apps.pipelines.services import create_version

pytestmark = pytest.mark.django_db

NOTEBOOK = json.dumps(
    {
        "cells": [{"cell_type": "code", "source": ["print('hi')\n"], "metadata": {}}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
).encode()


def _node(nid: str, filename: str, *, depends_on: list[str] = (), **props: Any) -> dict:
    return {
        "id": nid,
        "label": nid.upper(),
        "filename": filename,
        "x": 10,
        "y": 20,
        "depends_on": list(depends_on),
        "runtime_image": "python:3.11",
        **props,
    }


def _new_draft(client, files: dict[str, bytes], name: str = "demo") -> Draft:
    data: dict[str, Any] = {"name": name, "files": [], "paths": []}
    for path, body in files.items():
        upload = io.BytesIO(body)
        upload.name = path.rsplit("/", 1)[-1]
        data["files"].append(upload)
        data["paths"].append(path)
    response = client.post(reverse("editor:create"), data)
    assert response.status_code == 302, response.content
    return Draft.objects.get(pk=response.url.rstrip("/").rsplit("/", 1)[-1])


def _save(client, draft: Draft, document: dict, revision: int):
    return client.post(
        reverse("editor:document", args=[draft.pk]),
        json.dumps({"document": document, "revision": revision}),
        content_type="application/json",
    )


def _post_json(client, name: str, draft: Draft, body: dict):
    return client.post(
        reverse(f"editor:{name}", args=[draft.pk]),
        json.dumps(body),
        content_type="application/json",
    )


LOOSE = {
    "demo/load.ipynb": NOTEBOOK,
    "demo/train.py": b"print('train')\n",
    "demo/report.R": b"cat('report')\n",
    "demo/data/input.csv": b"a,b\n1,2\n",
}


def test_blank_draft_and_list(auth_client) -> None:
    response = auth_client.post(reverse("editor:create"), {"name": "  my   pipeline "})
    draft = Draft.objects.get()
    assert response.url == draft.get_absolute_url()
    assert draft.name == "my pipeline"
    assert draft.document["nodes"] == []
    page = auth_client.get(reverse("editor:list"))
    assert b"my pipeline" in page.content
    editor = auth_client.get(draft.get_absolute_url())
    assert editor.status_code == 200
    assert b"editor-state" in editor.content


def test_draft_from_loose_files_keeps_the_folders(auth_client) -> None:
    draft = _new_draft(auth_client, LOOSE, name="")
    assert draft.name == "demo"  # the one folder dropped names it
    assert sorted(draft.files.values_list("path", flat=True)) == [
        "data/input.csv",
        "load.ipynb",
        "report.R",
        "train.py",
    ]
    body = auth_client.get(reverse("editor:file", args=[draft.pk]), {"path": "train.py"}).json()
    assert body["text"] == "print('train')\n"


def test_bad_file_paths_are_refused(auth_client) -> None:
    response = auth_client.post(
        reverse("editor:create"),
        {"name": "x", "files": [io.BytesIO(b"x")], "paths": ["../escape.py"]},
        follow=True,
    )
    assert "points outside the folder" in response.content.decode()
    assert not Draft.objects.exists()
    assert not DraftFile.objects.exists()


def test_save_and_a_stale_save_is_refused(auth_client) -> None:
    draft = _new_draft(auth_client, LOOSE)
    doc = {"name": "demo", "nodes": [_node("a", "load.ipynb")]}
    first = _save(auth_client, draft, doc, draft.revision)
    assert first.status_code == 200
    assert Draft.objects.get(pk=draft.pk).updated_at > draft.updated_at
    revision = first.json()["revision"]
    assert revision == draft.revision + 1
    # A second tab still holding the old revision is told, and overwrites nothing.
    stale = _save(auth_client, draft, {"name": "other", "nodes": []}, draft.revision)
    assert stale.status_code == 409
    assert "Someone else changed this draft" in stale.json()["error"]
    assert stale.json()["revision"] == revision
    draft.refresh_from_db()
    assert [n["id"] for n in draft.document["nodes"]] == ["a"]
    assert draft.revision == revision


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "must be a JSON object"),
        ({"nodes": "x"}, "'nodes' must be a list"),
        ({"nodes": [{"label": "no id"}]}, "has no id"),
        ({"nodes": [{"id": "a"}, {"id": "a"}]}, "used twice"),
        ({"nodes": [{"id": "a", "env": "A=1"}]}, "env must be a list"),
    ],
)
def test_bad_documents_are_refused(auth_client, document: Any, message: str) -> None:
    draft = _new_draft(auth_client, LOOSE)
    response = _save(auth_client, draft, document, draft.revision)
    assert response.status_code == 400
    assert message in response.json()["error"]
    draft.refresh_from_db()
    assert draft.revision == 1


def test_check_places_the_importers_messages_on_nodes(auth_client) -> None:
    draft = _new_draft(auth_client, LOOSE)
    doc = {
        "name": "demo",
        "nodes": [
            _node("a", "load.ipynb", memory="lots"),
            _node("b", "train.py", depends_on=["a"], dependencies=["nothing/*.csv"]),
            _node("c", "gone.py", depends_on=["b"]),
        ],
    }
    check = _save(auth_client, draft, doc, draft.revision).json()["check"]
    assert not check["ok"]
    assert check["by_node"]["a"] == ["memory must be a number, got 'lots'"]
    assert check["by_node"]["b"] == ["dependency 'nothing/*.csv' matches no file in the zip"]
    assert check["by_node"]["c"] == ["file 'gone.py' is missing from the zip"]
    # The same message as an upload: the version is refused, nothing stored.
    response = _post_json(auth_client, "save_version", draft, {})
    assert response.status_code == 400
    assert "memory must be a number, got 'lots'" in response.json()["error"]
    assert not PipelineVersion.objects.exists()


def test_a_cycle_is_named(auth_client) -> None:
    draft = _new_draft(auth_client, LOOSE)
    doc = {
        "nodes": [
            _node("a", "load.ipynb", depends_on=["b"]),
            _node("b", "train.py", depends_on=["a"]),
        ]
    }
    check = _save(auth_client, draft, doc, draft.revision).json()["check"]
    assert any("the links form a cycle" in text for text in check["general"])


def _three_node_doc() -> dict:
    return {
        "name": "demo",
        "description": "built in the editor",
        "parameters": [{"name": "rows", "type": "Integer", "default": "5"}],
        "nodes": [
            _node(
                "a",
                "load.ipynb",
                cpu="0.5",
                memory="1",
                parameters=["rows"],
                dependencies=["data/*.csv"],
                outputs=["out/x.csv"],
            ),
            _node(
                "b",
                "train.py",
                depends_on=["a"],
                env=[{"name": "MODE", "value": "fast"}],
                retries="2",
                timeout_seconds="600",
                shm_size="1G",
            ),
            _node(
                "c",
                "report.R",
                depends_on=["a", "b"],
                gpu="1",
                pod_labels=[{"key": "team", "value": "ml"}],
            ),
        ],
    }


def test_save_as_version_equals_an_upload_of_the_same_zip(auth_client) -> None:
    draft = _new_draft(auth_client, LOOSE)
    saved = _save(auth_client, draft, _three_node_doc(), draft.revision).json()
    assert saved["check"]["ok"], saved["check"]
    response = _post_json(auth_client, "save_version", draft, {"description": "first"})
    assert response.status_code == 200, response.content
    version = PipelineVersion.objects.get(pk=response.json()["version"])
    assert response.json()["url"] == version.get_absolute_url()
    assert version.pipeline.name == "demo" and version.name == "v1"
    spec = version.spec
    assert spec["source_version"] == 8
    by_id = {n["id"]: n for n in spec["nodes"]}
    assert by_id["a"]["cpu"] == 0.5 and by_id["a"]["memory_gb"] == 1.0
    assert by_id["a"]["parameters"] == ["rows"]
    assert by_id["b"]["env"] == {"MODE": "fast"}
    assert by_id["b"]["retries"] == 2 and by_id["b"]["timeout_seconds"] == 600
    assert by_id["b"]["shm_size"] == "1G"
    assert by_id["c"]["depends_on"] == ["a", "b"] and by_id["c"]["kind"] == "r"
    assert version.parameters[0]["default"] == 5
    template = {t["name"]: t for t in version.manifest["spec"]["templates"]}
    assert any(t.get("retryStrategy", {}).get("limit") == 2 for t in template.values())

    # The downloaded zip re-imports to the same spec and the same manifest (but the version id).
    bundle = auth_client.get(
        reverse("pipelines:version_bundle", args=[version.pipeline_id, version.pk])
    )
    data = b"".join(bundle.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert "demo.pipeline" in archive.namelist()
    again = create_version(upload_name="demo.zip", data=data, pipeline=version.pipeline)
    assert again.spec == version.spec
    assert again.content_hash == version.content_hash
    as_text = json.dumps(again.manifest)
    for new, old in (
        (bundle_signature(again.pk), bundle_signature(version.pk)),
        (str(again.pk), str(version.pk)),
    ):
        as_text = as_text.replace(new, old)
    assert json.loads(as_text) == version.manifest

    # The next save is version 2 of the same pipeline.
    second = _post_json(auth_client, "save_version", draft, {"run": True})
    v2 = PipelineVersion.objects.get(pk=second.json()["version"])
    assert v2.pipeline_id == version.pipeline_id and v2.name == "v3"
    assert second.json()["url"] == (
        f"{reverse('runs:create')}?version={v2.pk}&pipeline={v2.pipeline_id}"
    )
    assert Pipeline.objects.count() == 1


def test_draft_from_a_version_round_trips(auth_client) -> None:
    draft = _new_draft(auth_client, LOOSE)
    _save(auth_client, draft, _three_node_doc(), draft.revision)
    first = PipelineVersion.objects.get(
        pk=_post_json(auth_client, "save_version", draft, {}).json()["version"]
    )
    response = auth_client.post(reverse("editor:from_version", args=[first.pk]))
    opened = Draft.objects.exclude(pk=draft.pk).get()
    assert response.url == opened.get_absolute_url()
    assert opened.pipeline_id == first.pipeline_id and opened.base_version_id == first.pk
    # The version's .pipeline is not one of the draft's files: the draft writes its own.
    assert sorted(opened.files.values_list("path", flat=True)) == sorted(
        ["data/input.csv", "load.ipynb", "report.R", "train.py"]
    )
    assert [(n["x"], n["y"]) for n in opened.document["nodes"]] == [(10, 20)] * 3
    second = PipelineVersion.objects.get(
        pk=_post_json(auth_client, "save_version", opened, {}).json()["version"]
    )
    assert second.name == "v2"
    assert second.spec == first.spec


def test_files_rename_write_delete(auth_client) -> None:
    draft = _new_draft(auth_client, LOOSE)
    upload = io.BytesIO(b"x = 1\n")
    upload.name = "util.py"
    added = auth_client.post(
        reverse("editor:files", args=[draft.pk]), {"files": [upload], "paths": ["lib/util.py"]}
    )
    assert added.json()["added"] == ["lib/util.py"]
    renamed = _post_json(auth_client, "rename", draft, {"old": "lib/util.py", "new": "lib/u.py"})
    assert renamed.json()["path"] == "lib/u.py"
    clash = _post_json(auth_client, "rename", draft, {"old": "lib/u.py", "new": "train.py"})
    assert "already exists" in clash.json()["error"]
    written = _post_json(auth_client, "file", draft, {"path": "lib/u.py", "text": "x = 2\n"})
    assert written.json()["size"] == 6
    text = auth_client.get(reverse("editor:file", args=[draft.pk]), {"path": "lib/u.py"})
    assert text.json()["text"] == "x = 2\n"
    assert DraftFile.objects.filter(path="lib/u.py").count() == 1
    deleted = _post_json(auth_client, "delete_file", draft, {"path": "lib/u.py"})
    assert "lib/u.py" not in [f["path"] for f in deleted.json()["files"]]
    refused = auth_client.post(
        reverse("editor:files", args=[draft.pk]),
        {"files": [io.BytesIO(b"{}")], "paths": ["x.pipeline"]},
    )
    assert "start a new draft from it" in refused.json()["error"]


def test_a_pipeline_file_among_loose_files_becomes_the_graph(auth_client) -> None:
    draft = _new_draft(auth_client, LOOSE)
    _save(auth_client, draft, _three_node_doc(), draft.revision)
    version = PipelineVersion.objects.get(
        pk=_post_json(auth_client, "save_version", draft, {}).json()["version"]
    )
    with version.bundle.open("rb") as fh, zipfile.ZipFile(fh) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    again = _new_draft(auth_client, {f"copy/{k}": v for k, v in files.items()}, name="copy")
    assert [n["id"] for n in again.document["nodes"]] == ["a", "b", "c"]
    assert "demo.pipeline" not in again.files.values_list("path", flat=True)


def test_argo_versions_do_not_open(auth_client) -> None:
    from tests.pipelines.test_services import WORKFLOW

    version = create_version(upload_name="wf.yaml", data=WORKFLOW, pipeline_name="argo one")
    response = auth_client.post(reverse("editor:from_version", args=[version.pk]), follow=True)
    assert "Only Elyra pipelines open in the editor" in response.content.decode()
    assert not Draft.objects.exists()


def test_pipeline_defaults_apply_to_nodes_that_leave_them_empty(auth_client) -> None:
    draft = _new_draft(auth_client, LOOSE)
    doc = {
        "name": "demo",
        "defaults": {
            "runtime_image": "localhost/ydp-python:3.11",
            "env": [{"name": "STAGE", "value": "test"}, {"name": "MODE", "value": "slow"}],
        },
        "nodes": [
            _node("a", "load.ipynb", runtime_image=""),
            _node("b", "train.py", env=[{"name": "MODE", "value": "fast"}]),
        ],
    }
    assert _save(auth_client, draft, doc, draft.revision).json()["check"]["ok"]
    response = _post_json(auth_client, "save_version", draft, {})
    version = PipelineVersion.objects.get(pk=response.json()["version"])
    nodes = {n["id"]: n for n in version.spec["nodes"]}
    assert nodes["a"]["runtime_image"] == "localhost/ydp-python:3.11"
    assert nodes["b"]["runtime_image"] == "python:3.11"
    assert nodes["a"]["env"] == {"STAGE": "test", "MODE": "slow"}
    assert nodes["b"]["env"] == {"STAGE": "test", "MODE": "fast"}
    # Reopened, the draft keeps its defaults.
    auth_client.post(reverse("editor:from_version", args=[version.pk]))
    opened = Draft.objects.exclude(pk=draft.pk).get()
    assert opened.document["defaults"] == doc["defaults"]


def test_a_version_uploaded_without_its_files_is_completed_in_the_editor(auth_client) -> None:
    from tests.pipelines.test_services import _pipeline_doc

    lone = create_version(upload_name="hello.pipeline", data=_pipeline_doc(), pipeline_name="hi")
    auth_client.post(reverse("editor:from_version", args=[lone.pk]))
    draft = Draft.objects.get()
    check = auth_client.get(reverse("editor:document", args=[draft.pk])).json()["check"]
    assert check["by_node"] == {"n1": ["file 'hello.ipynb' is missing from the zip"]}
    upload = io.BytesIO(NOTEBOOK)
    upload.name = "hello.ipynb"
    added = auth_client.post(
        reverse("editor:files", args=[draft.pk]), {"files": [upload], "paths": ["hello.ipynb"]}
    )
    assert added.json()["check"]["ok"]
    version = _post_json(auth_client, "save_version", draft, {}).json()
    saved = PipelineVersion.objects.get(pk=version["version"])
    assert saved.name == "v2" and saved.spec["nodes"][0]["filename"] == "hello.ipynb"
    assert saved.spec["metadata"]["missing_files"] == []
