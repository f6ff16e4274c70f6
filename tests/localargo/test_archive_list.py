"""``GET /api/v1/archived-workflows`` as Argo's TestWorkflowArchiveServiceList drives it: name
filters (fieldSelector + nameFilter, namePrefix), label selectors, the summary Argo's archive
lists (no spec, no nodes) and the "Persisted" archiving status, over real HTTP."""

from __future__ import annotations

import uuid

import pytest

from .conftest import NS, Client, container, workflow

ARCHIVED_LIST = "/api/v1/archived-workflows"


@pytest.fixture(scope="module")
def archived(engine, swagger) -> dict[str, str]:
    """Two finished workflows, `<tag>-bob-...` and `<tag>-alice-...`, deleted (archived)."""
    api = Client(engine.url, swagger)
    tag = f"t{uuid.uuid4().hex[:6]}"
    uids = {}
    for who in ("bob", "alice"):
        wf = workflow("main", [container("main", "true")], prefix=f"{tag}-{who}-")
        wf["metadata"]["labels"] = {"workflows.argoproj.io/test": tag}
        done = api.run(wf)
        assert done["status"]["phase"] == "Succeeded"
        api.call("DELETE", f"/api/v1/workflows/{NS}/{done['metadata']['name']}")
        uids[who] = done["metadata"]["uid"]
        uids[f"{who}-name"] = done["metadata"]["name"]
    uids["tag"] = tag
    return uids


def listed(api: Client, archived: dict[str, str], **params: str) -> set[str]:
    params["listOptions.labelSelector"] = f"workflows.argoproj.io/test={archived['tag']}"
    body = api.call(
        "GET", ARCHIVED_LIST, "io.argoproj.workflow.v1alpha1.WorkflowList", params=params
    )
    return {w["metadata"]["uid"] for w in body["items"]}


def test_the_archive_lists_argos_summary_with_persisted_status(api: Client, archived) -> None:
    params = {"listOptions.labelSelector": f"workflows.argoproj.io/test={archived['tag']}"}
    body = api.call("GET", ARCHIVED_LIST, params=params)
    assert {w["metadata"]["uid"] for w in body["items"]} == {archived["bob"], archived["alice"]}
    for item in body["items"]:
        assert item["metadata"]["labels"]["workflows.argoproj.io/workflow-archiving-status"] == (
            "Persisted"
        )
        assert item["spec"] == {}
        assert set(item["status"]) >= {"phase", "startedAt", "finishedAt", "progress"}
        assert "nodes" not in item["status"]
    # the whole workflow is one GET away
    whole = api.call("GET", f"{ARCHIVED_LIST}/{archived['bob']}")
    assert whole["spec"]["entrypoint"] == "main" and whole["status"]["nodes"]


@pytest.mark.parametrize(
    ("selector", "name_filter", "prefix", "expected"),
    [
        ("metadata.name=alice", "Contains", "", {"alice"}),
        ("metadata.name=void", "Contains", "", set()),
        ("metadata.name={tag}-bob", "Prefix", "", {"bob"}),
        ("metadata.name=bob", "Prefix", "", set()),  # contains bob, not as a prefix
        ("metadata.name={alice-name}", "Exact", "", {"alice"}),
        ("metadata.name={tag}-alice", "Exact", "", set()),
        ("metadata.name={bob-name}", "", "", {"bob"}),  # Exact by default
        ("metadata.name=={bob-name}", "", "", {"bob"}),
        ("metadata.name={tag}", "Contains", "", {"alice", "bob"}),
        ("metadata.name=bob", "Contains", "{tag}", {"bob"}),
        ("metadata.name=bob", "Exact", "{tag}", set()),
        ("metadata.name={tag}", "Prefix", "bob", set()),
        ("metadata.name={tag}", "Prefix", "{tag}", {"alice", "bob"}),
        ("metadata.name!={alice-name}", "NotEquals", "", {"bob"}),
        ("metadata.name!=nomatch", "NotEquals", "", {"alice", "bob"}),
        ("metadata.name!={alice-name}", "Contains", "", {"bob"}),  # != wins over the filter
    ],
)
def test_archive_name_filters_as_argos_e2e_test(
    api: Client, archived, selector: str, name_filter: str, prefix: str, expected: set[str]
) -> None:
    params = {"listOptions.fieldSelector": selector.format_map(archived)}
    if name_filter:
        params["nameFilter"] = name_filter
    if prefix:
        params["namePrefix"] = prefix.format_map(archived)
    assert listed(api, archived, **params) == {archived[who] for who in expected}
