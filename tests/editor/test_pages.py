"""The editor's pages and calls: fixed query counts, the entry points, logins required, and the
importer reading the editor's retries/timeout."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.editor.models import Draft, DraftFile
from apps.pipelines.importers.elyra import build_spec
from tests.editor.test_drafts import LOOSE, _new_draft, _node, _save

pytestmark = pytest.mark.django_db


def _count(client, method: str, url: str, **kwargs) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(url, **kwargs)
    return len(queries), response


def test_query_counts_do_not_grow_with_the_draft(auth_client, user) -> None:
    small = _new_draft(auth_client, {"a/x.py": b"1"})
    big = _new_draft(auth_client, {f"b/f{i}.py": b"1" for i in range(30)})
    nodes = [_node(f"n{i}", f"f{i}.py", depends_on=[f"n{i - 1}"] if i else []) for i in range(30)]
    _save(auth_client, big, {"name": "big", "nodes": nodes}, big.revision)
    for i in range(5):
        Draft.objects.create(owner=user, name=f"extra {i}")

    counts = []
    for draft in (small, big):
        draft.refresh_from_db()
        page, response = _count(auth_client, "get", draft.get_absolute_url())
        assert response.status_code == 200
        body = json.dumps({"document": draft.document, "revision": draft.revision})
        save, response = _count(
            auth_client,
            "post",
            reverse("editor:document", args=[draft.pk]),
            data=body,
            content_type="application/json",
        )
        assert response.status_code == 200
        counts.append((page, save))
    assert counts[0] == counts[1]
    # Page: session, user, the caller's projects and roles, draft, images, file names (the
    # check), file list. Save: session, user, projects and roles, draft, the conditional update,
    # the re-read, file names (the check).
    assert counts[0] == (7, 7)
    listing, response = _count(auth_client, "get", reverse("editor:list"))
    assert response.status_code == 200
    assert listing == 4  # session, user, projects and roles, drafts


def test_entry_points(auth_client) -> None:
    assert b'id="new-in-editor"' in auth_client.get(reverse("pipelines:list")).content
    draft = _new_draft(auth_client, LOOSE)
    _save(auth_client, draft, {"name": "demo", "nodes": [_node("a", "load.ipynb")]}, 1)
    response = auth_client.post(
        reverse("editor:save_version", args=[draft.pk]), "{}", content_type="application/json"
    )
    url = response.json()["url"]
    page = auth_client.get(url).content.decode()
    assert 'id="edit-in-editor"' in page
    assert reverse("editor:from_version", args=[response.json()["version"]]) in page


def test_login_is_required(client, auth_client) -> None:
    draft = _new_draft(auth_client, LOOSE)
    client.logout()
    for url in (reverse("editor:list"), draft.get_absolute_url()):
        assert client.get(url).status_code == 302
    response = client.post(
        reverse("editor:document", args=[draft.pk]), "{}", content_type="application/json"
    )
    assert response.status_code == 302
    assert DraftFile.objects.filter(draft=draft).count() == 4


def test_deleting_a_draft_removes_its_files(
    auth_client, media_root, django_capture_on_commit_callbacks
) -> None:
    draft = _new_draft(auth_client, LOOSE)
    stored = [media_root / row.content.name for row in draft.files.all()]
    assert all(path.exists() for path in stored)
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(reverse("editor:delete", args=[draft.pk]))
    assert response.status_code == 302
    assert not Draft.objects.exists()
    assert not any(path.exists() for path in stored)


def test_the_importer_reads_retries_and_timeout() -> None:
    node = {
        "id": "a",
        "type": "execution_node",
        "op": "execute-python-node",
        "app_data": {
            "component_parameters": {
                "filename": "a.py",
                "runtime_image": "python:3.11",
                "retries": 3,
                "timeout_seconds": "60",
            }
        },
    }
    doc = {
        "version": "3.0",
        "pipelines": [{"id": "p", "nodes": [node], "app_data": {"version": 8}}],
    }
    spec = build_spec(doc, source="x.pipeline", files=None)
    assert (spec.nodes[0].retries, spec.nodes[0].timeout_seconds) == (3, 60)
    node["app_data"]["component_parameters"]["timeout_seconds"] = "soon"
    with pytest.raises(Exception, match="timeout_seconds must be a number, got 'soon'"):
        build_spec(doc, source="x.pipeline", files=None)


def test_an_existing_pipeline_name_is_refused_with_the_uploads_message(auth_client) -> None:
    draft = _new_draft(auth_client, LOOSE)
    _save(auth_client, draft, {"name": "demo", "nodes": [_node("a", "load.ipynb")]}, 1)
    first = auth_client.post(
        reverse("editor:save_version", args=[draft.pk]), "{}", content_type="application/json"
    )
    assert first.status_code == 200
    other = _new_draft(auth_client, LOOSE, name="other")
    _save(auth_client, other, {"name": "demo", "nodes": [_node("a", "load.ipynb")]}, 1)
    refused = auth_client.post(
        reverse("editor:save_version", args=[other.pk]), "{}", content_type="application/json"
    )
    assert refused.status_code == 400
    assert "A pipeline named 'demo' already exists" in refused.json()["error"]


def test_only_the_owner_deletes_a_draft(auth_client, client, django_user_model) -> None:
    draft = _new_draft(auth_client, LOOSE)
    other = django_user_model.objects.create_user("bob", "bob@example.com", "pw-bob-123")
    client.force_login(other)
    response = client.post(reverse("editor:delete", args=[draft.pk]), follow=True)
    assert "Only the person who started a draft can delete it." in response.content.decode()
    assert Draft.objects.filter(pk=draft.pk).exists()


def test_admin_lists_drafts(client, django_user_model) -> None:
    admin_user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-1")
    Draft.objects.create(owner=admin_user, name="in the admin")
    client.force_login(admin_user)
    response = client.get(reverse("admin:editor_draft_changelist"))
    assert response.status_code == 200
    assert b"in the admin" in response.content
