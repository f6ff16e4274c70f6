"""Template-level ``failFast`` on Steps and DAG templates (Argo's TestWorkflowParallelism
{Step,DAG}FailFast), over real HTTP."""

from __future__ import annotations

from .conftest import Client, container, workflow
from .test_run import by_display

FAIL_FAST = "template has failed or errored children and failFast enabled"


def test_steps_fail_fast_fails_the_template_once_its_running_steps_end(api: Client) -> None:
    main = {
        "name": "main",
        "parallelism": 2,
        "failFast": True,
        "steps": [
            [{"name": "bad", "template": "bad"}, {"name": "slow", "template": "slow"}],
            [{"name": "after", "template": "slow"}],
        ],
    }
    wf = api.run(workflow("main", [main, container("bad", "exit 1"), container("slow", "sleep 1")]))
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["message"] == FAIL_FAST
    nodes = by_display(wf)
    assert nodes[wf["metadata"]["name"]]["message"] == FAIL_FAST
    assert nodes["[0]"]["phase"] == "Failed"
    assert nodes["bad"]["phase"] == "Failed"
    assert nodes["slow"]["phase"] == "Succeeded"  # a running step is not stopped
    assert "after" not in nodes


def test_dag_fail_fast_starts_no_task_once_one_failed(api: Client) -> None:
    """``dag.failFast: false`` would start `later`; the template's failFast does not."""
    main = {
        "name": "main",
        "failFast": True,
        "dag": {
            "failFast": False,
            "tasks": [
                {"name": "bad", "template": "bad"},
                {"name": "slow", "template": "slow"},
                {"name": "later", "template": "slow", "dependencies": ["slow"]},
            ],
        },
    }
    templates = [main, container("bad", "exit 1"), container("slow", "sleep 1")]
    wf = api.run(workflow("main", templates))
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["message"] == FAIL_FAST
    nodes = by_display(wf)
    assert nodes["bad"]["phase"] == "Failed"
    assert nodes["slow"]["phase"] == "Succeeded"
    assert "later" not in nodes
    # the same DAG without the template's failFast runs `later`, and says which child failed
    del main["failFast"]
    wf = api.run(workflow("main", templates))
    assert wf["status"]["phase"] == "Failed"
    assert by_display(wf)["later"]["phase"] == "Succeeded"
    assert wf["status"]["message"].startswith("child '")
