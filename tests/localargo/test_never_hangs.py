"""Workflows Argo finishes must finish here too: DAG tasks listed before the tasks they depend
on, `parallelism: 0`, and CronWorkflows with `startingDeadlineSeconds: 0` (issue 9)."""

from __future__ import annotations

import time

import pytest

from .conftest import NS, ApiFailure, Client, container, workflow
from .test_cron import cron, spawned

CRON = "io.argoproj.workflow.v1alpha1.CronWorkflow"


def producer_templates(kind: str) -> list[dict]:
    """The template `producer` of the given kind, plus what it calls."""
    leaf = container("leaf", "echo made")
    if kind == "plain":
        return [container("producer", "echo made")]
    if kind == "retry":
        return [container("producer", "echo made", retryStrategy={"limit": 1})]
    if kind == "steps":
        return [{"name": "producer", "steps": [[{"name": "s", "template": "leaf"}]]}, leaf]
    if kind == "dag":
        return [{"name": "producer", "dag": {"tasks": [{"name": "d", "template": "leaf"}]}}, leaf]
    raise AssertionError(kind)


KINDS = ("plain", "retry", "steps", "dag")
DEPS = {
    "dependencies": {"dependencies": ["z-producer"]},
    "depends": {"depends": "z-producer"},
    "depends-succeeded": {"depends": "z-producer.Succeeded"},
    "depends-or": {"depends": "z-producer.Succeeded || z-producer.Failed"},
}


def consumer_first(kind: str, dep: dict) -> dict:
    """KFP v1 orders tasks by name, so the consumer comes before its producer."""
    dag = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": "a-consumer", "template": "consumer", **dep},
                {"name": "z-producer", "template": "producer"},
            ]
        },
    }
    return workflow("main", [dag, container("consumer", "echo ate"), *producer_templates(kind)])


def wait_all(api: Client, names: dict[str, str], timeout: float) -> dict[str, dict]:
    deadline = time.time() + timeout
    done: dict[str, dict] = {}
    while len(done) < len(names) and time.time() < deadline:
        for case, name in names.items():
            if case not in done:
                wf = api.get(name)
                if wf["status"].get("phase") in ("Succeeded", "Failed", "Error"):
                    done[case] = wf
        time.sleep(0.2)
    return done


@pytest.mark.slow
def test_dag_task_listed_before_its_dependency_runs(api: Client) -> None:
    names = {
        (kind, dep): api.create(consumer_first(kind, body))["metadata"]["name"]
        for kind in KINDS
        for dep, body in DEPS.items()
    }
    done = wait_all(api, {f"{k}/{d}": n for (k, d), n in names.items()}, timeout=60)
    hung = sorted(set(f"{k}/{d}" for k, d in names) - set(done))
    assert not hung, f"still running after 60 s: {hung}"
    for case, wf in done.items():
        assert wf["status"]["phase"] == "Succeeded", case
        phases = {n["displayName"]: n["phase"] for n in wf["status"]["nodes"].values()}
        assert phases["a-consumer"] == "Succeeded", case
        assert phases["z-producer"] == "Succeeded", case


def test_reversed_chain_through_retry_and_nested_templates(api: Client) -> None:
    """a <- b <- c <- d, listed a..d: each waits on a later task of another kind."""
    dag = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": "a", "template": "plain", "depends": "b"},
                {"name": "b", "template": "retry", "dependencies": ["c"]},
                {"name": "c", "template": "nested", "depends": "d.Succeeded"},
                {"name": "d", "template": "retry"},
            ]
        },
    }
    nested = {"name": "nested", "steps": [[{"name": "x", "template": "retry"}]]}
    templates = [
        dag,
        nested,
        container("plain", "echo a"),
        container("retry", "echo r", retryStrategy={"limit": 2}),
    ]
    wf = api.run(workflow("main", templates), timeout=60)
    assert wf["status"]["phase"] == "Succeeded"
    started = {
        n["displayName"]: n["startedAt"]
        for n in wf["status"]["nodes"].values()
        if n["displayName"] in "abcd"
    }
    assert started["d"] <= started["c"] <= started["b"] <= started["a"]


def test_template_parallelism_zero_means_no_limit(api: Client) -> None:
    """KFP 1.8 compiles dsl.ParallelFor to `parallelism: 0`; Argo's Template.HasParallelism()
    is `parallelism > 0`, so 0 sets no limit."""
    loop = {
        "name": "loop",
        "parallelism": 0,
        "steps": [[{"name": "each", "template": "item", "withItems": [1, 2, 3]}]],
    }
    item = container("item", "sleep 1; echo {{inputs.parameters.n}}")
    item["inputs"] = {"parameters": [{"name": "n", "value": "{{item}}"}]}
    step = loop["steps"][0][0]
    step["arguments"] = {"parameters": [{"name": "n", "value": "{{item}}"}]}
    wf = api.run(workflow("loop", [loop, item]), timeout=30)
    assert wf["status"]["phase"] == "Succeeded"
    pods = [n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"]
    assert len(pods) == 3
    # no limit: the three ran side by side
    assert max(p["startedAt"] for p in pods) < min(p["finishedAt"] for p in pods)


def test_workflow_parallelism_zero_is_refused_at_create(api: Client) -> None:
    """Argo's controller compares active pods `>= spec.parallelism`, so 0 never starts a pod:
    the engine refuses it instead of accepting a workflow that cannot run."""
    with pytest.raises(ApiFailure) as err:
        api.create(workflow("main", [container("main", "true")], parallelism=0))
    assert err.value.status == 400
    assert "unsupported: spec.parallelism" in err.value.body["message"]


def test_cron_deadline_zero_starts_and_substitutes_scheduled_time(api: Client) -> None:
    """Argo's own examples/cron-workflow.yaml says `startingDeadlineSeconds: 0`, which Argo
    treats as unset; the spawned workflow gets `{{workflow.scheduledTime}}` (RFC 3339)."""
    body = cron(
        "c-deadline0",
        "* * * * * */2",
        "echo scheduled={{workflow.scheduledTime}}",
        startingDeadlineSeconds=0,
    )
    api.call("POST", f"/api/v1/cron-workflows/{NS}", CRON, json={"cronWorkflow": body})
    try:
        deadline = time.time() + 15
        while not spawned(api, "c-deadline0") and time.time() < deadline:
            time.sleep(0.3)
        runs = spawned(api, "c-deadline0")
        assert runs, "no workflow spawned within 15 s"
        wf = api.wait(runs[0]["metadata"]["name"])
        assert wf["status"]["phase"] == "Succeeded"
        stamp = wf["metadata"]["annotations"]["workflows.argoproj.io/scheduled-time"]
        assert len(stamp) == 20 and stamp.endswith("Z")
        log = api.session.get(
            f"{api.base}/api/v1/workflows/{NS}/{wf['metadata']['name']}/log",
            params={"logOptions.container": "main"},
            timeout=30,
        ).text
        assert f"scheduled={stamp}" in log
    finally:
        api.call("DELETE", f"/api/v1/cron-workflows/{NS}/c-deadline0")
