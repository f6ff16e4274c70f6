"""The properties forms (apps.editor.forms) through their view: a node's and the pipeline's form
for the page's document, edits judged by the importer (its messages, on the fields they are
about), the values the page's document takes, record rows added and removed, and a fixed
number of queries."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from apps.editor import document as doclib
from apps.editor.forms import message_field
from tests.editor.test_drafts import LOOSE, _new_draft, _node

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


def _doc(**node_props) -> dict:
    return doclib.clean_document(
        {
            "name": "demo",
            "parameters": [{"name": "DEPTH", "type": "Integer", "default": 3}],
            "nodes": [
                _node("a", "load.ipynb", **node_props),
                _node("b", "train.py", depends_on=["a"]),
            ],
        }
    )


def _props(client, draft, doc: dict, **fields):
    data = {"document": json.dumps(doc), **fields}
    return client.post(reverse("editor:properties", args=[draft.pk]), data, headers=HX)


def _node_fields(doc: dict, nid: str, **changes) -> dict:
    """What the node's form posts when nothing was changed but `changes`."""
    node = doclib.find_node(doc, nid)
    fields = {"node": nid, "edit": "1"}
    for key in doclib.NODE_PROPERTIES:
        value = node[key]
        if key in doclib.RECORD_FIELDS:
            for i, row in enumerate(value):
                for name, cell in row.items():
                    if cell is not False:
                        fields[f"{key}-{i}-{name}"] = "on" if cell is True else cell
        elif key in ("dependencies", "outputs"):
            fields[key] = "\n".join(value)
        elif key == "parameters":
            fields[key] = value
        elif key == "include_subdirectories":
            if value:
                fields[key] = "on"
        else:
            fields[key] = "" if value is None else str(value)
    fields.update(changes)
    return fields


def _event(response) -> dict:
    return json.loads(response["HX-Trigger"])["ydp:properties"]


def test_a_node_form_shows_the_node_as_the_page_holds_it(auth_client) -> None:
    draft = _new_draft(auth_client, LOOSE)
    doc = _doc(memory="4", env=[{"name": "GREETING", "value": "hi"}], parameters=["DEPTH"])
    response = _props(auth_client, draft, doc, node="a")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="props-form"' in body and 'data-node="a"' in body
    assert '<h2 id="props-title" hx-swap-oob="true">A</h2>' in body
    assert 'name="memory" value="4"' in body
    assert 'name="env-0-name" value="GREETING"' in body
    assert 'aria-label="NAME (env 1)"' in body
    # The pipeline's parameters are offered, the one received is ticked.
    assert re.search(r'<input type="checkbox" name="parameters" value="DEPTH"[^>]*checked', body)
    # The runnable files are the File choices; not the csv.
    assert '<option value="train.py">' in body and "input.csv</option>" not in body
    assert "HX-Trigger" not in response  # showing a form changes nothing
    assert 'id="props-messages"' in body and "Fix before saving" not in body


def test_an_edit_is_judged_by_the_importer_and_its_message_lands_on_the_field(
    auth_client,
) -> None:
    draft = _new_draft(auth_client, LOOSE)
    doc = _doc()
    response = _props(auth_client, draft, doc, **_node_fields(doc, "a", memory="lots"))
    body = response.content.decode()
    message = "memory must be a number, got &#x27;lots&#x27;"
    # Typed in a field: only the parts that change come back, out of band.
    assert 'id="props-form"' not in body
    assert re.search(
        rf'id="err-a-memory" hx-swap-oob="true"><div class="field-error" role="alert">{message}',
        body,
    )
    assert 'id="err-a-cpu" hx-swap-oob="true"></div>' in body  # cleared where fixed
    assert 'id="props-messages"' in body and "Fix before saving as a version" in body
    event = _event(response)
    assert event["node"] == "a" and event["values"]["memory"] == "lots"
    assert event["check"]["by_node"]["a"] == ["memory must be a number, got 'lots'"]
    # The same message as an upload of that pipeline gets.
    assert "memory must be a number, got 'lots'" in " ".join(event["check"]["by_node"]["a"])
    fixed = _props(auth_client, draft, doc, **_node_fields(doc, "a", memory="0.5"))
    assert _event(fixed)["check"]["by_node"] == {}
    assert "Fix before saving" not in fixed.content.decode()


def test_a_number_from_a_version_stays_a_number_when_not_edited(auth_client) -> None:
    draft = _new_draft(auth_client, LOOSE)
    doc = _doc(cpu=0.5, retries=2)
    response = _props(auth_client, draft, doc, **_node_fields(doc, "a", label="Load it"))
    values = _event(response)["values"]
    assert (values["cpu"], values["retries"], values["label"]) == (0.5, 2, "Load it")
    assert '<h2 id="props-title" hx-swap-oob="true">Load it</h2>' in response.content.decode()


def test_rows_are_added_and_removed_by_the_server(auth_client) -> None:
    draft = _new_draft(auth_client, LOOSE)
    doc = _doc(env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    added = _props(auth_client, draft, doc, **_node_fields(doc, "a", add="volumes"))
    body = added.content.decode()
    assert 'id="props-form"' in body  # a row added: the whole form
    assert 'name="volumes-0-path" value="" placeholder="/mount/path"' in body
    assert _event(added)["values"]["volumes"] == [
        {"path": "", "pvc_name": "", "sub_path": "", "read_only": False}
    ]
    removed = _props(auth_client, draft, doc, **_node_fields(doc, "a", remove="env-0"))
    assert _event(removed)["values"]["env"] == [{"name": "B", "value": "2"}]
    assert 'name="env-0-name" value="B"' in removed.content.decode()


def test_dependencies_list_the_files_they_match(auth_client) -> None:
    draft = _new_draft(auth_client, LOOSE)
    doc = _doc()
    response = _props(auth_client, draft, doc, **_node_fields(doc, "a", dependencies="data/*"))
    body = response.content.decode()
    assert 'id="glob-matches"' in body and "<li>data/input.csv</li>" in body
    missing = _props(auth_client, draft, doc, **_node_fields(doc, "a", dependencies="nope/*"))
    assert "No file matches yet." in missing.content.decode()
    assert "dependency &#x27;nope/*&#x27; matches no file" in missing.content.decode()


def test_the_pipeline_form_and_its_parameters(auth_client) -> None:
    draft = _new_draft(auth_client, LOOSE)
    doc = _doc()
    body = _props(auth_client, draft, doc).content.decode()
    assert '<h2 id="props-title" hx-swap-oob="true">Pipeline</h2>' in body
    assert 'aria-label="Name of parameter 1"' in body and 'value="DEPTH"' in body
    fields = {
        "edit": "1",
        "name": "renamed",
        "description": "",
        "runtime_image": "python:3.12",
        "params-0-name": "DEPTH",
        "params-0-type": "Integer",
        "params-0-default": "deep",
        "params-0-description": "",
    }
    response = _props(auth_client, draft, doc, **fields)
    event = _event(response)
    assert event["values"]["name"] == "renamed"
    assert event["values"]["defaults"]["runtime_image"] == "python:3.12"
    problem = next(p for p in event["check"]["general"] if "DEPTH" in p)
    assert problem.startswith("pipeline parameter 'DEPTH': default")
    # ... shown on the parameter's card.
    assert re.search(
        r'id="err-p-params-0" hx-swap-oob="true"><div class="field-error"',
        body := response.content.decode(),
    ), body
    added = _props(auth_client, draft, doc, **{**fields, "params-0-default": "3", "add": "params"})
    assert _event(added)["values"]["parameters"][1]["name"] == ""
    assert _event(added)["values"]["parameters"][0]["default"] == 3  # kept as stored


def test_a_bad_document_or_a_gone_node_is_refused(auth_client) -> None:
    draft = _new_draft(auth_client, LOOSE)
    url = reverse("editor:properties", args=[draft.pk])
    assert auth_client.post(url, {"document": "{nope"}, headers=HX).status_code == 400
    assert auth_client.post(url, {"document": '{"nodes": 3}'}, headers=HX).status_code == 400
    gone = _props(auth_client, draft, _doc(), node="zzz")
    assert gone.status_code == 404


def test_message_fields() -> None:
    assert message_field("memory must be a number, got 'lots'") == "memory"
    assert message_field("env_vars: 'x y' is not a valid environment variable name") == "env"
    assert message_field("dependency 'a' matches no file in the zip") == "dependencies"
    assert message_field("uses pipeline parameter 'X', which is not declared") == "parameters"


def test_queries_do_not_grow_with_the_document(auth_client, django_assert_num_queries) -> None:
    draft = _new_draft(auth_client, LOOSE)
    small = _doc()
    nodes = [_node(f"n{i}", "train.py", depends_on=[f"n{i - 1}"] if i else []) for i in range(60)]
    big = doclib.clean_document({"name": "big", "nodes": nodes})
    _props(auth_client, draft, small, node="a")  # warm the session
    # session, user, the caller's projects (apps.projects.scope), draft, file names
    for doc, nid in ((small, "a"), (big, "n30")):
        with django_assert_num_queries(5):
            _props(auth_client, draft, doc, **_node_fields(doc, nid, cpu="x"))
        with django_assert_num_queries(5):
            _props(auth_client, draft, doc)


def test_a_value_over_the_documents_limits_is_refused(auth_client) -> None:
    draft = _new_draft(auth_client, LOOSE)
    doc = _doc()
    huge = "x" * (doclib.MAX_TEXT + 1)
    response = _props(auth_client, draft, doc, **_node_fields(doc, "a", **{"env-0-name": huge}))
    assert response.status_code == 400 and b"longer than" in response.content
    long_name = _props(auth_client, draft, doc, edit="1", name=huge)
    assert _event(long_name)["values"]["name"] == "demo"  # kept
