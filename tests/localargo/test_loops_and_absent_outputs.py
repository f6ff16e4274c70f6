"""Loops that expand to nothing, and references to outputs a skipped task never produced
(Argo's e2e TestDAGEmptyParam, TestLoopEmptyParam, TestDAGSkipped*/TestStepsSkipped*), each
on a minimal workflow of its own through the real HTTP API."""

from __future__ import annotations

from .conftest import NS, Client, container, workflow
from .test_run import by_display

ABSENT = "refers to an absent optional output of a skipped or omitted task"


def _print_list(name: str = "gen") -> dict:
    return container(name, "echo '[]'")


def test_an_empty_with_param_is_one_skipped_node_and_the_dag_goes_on(api: Client) -> None:
    dag = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": "gen", "template": "gen"},
                {
                    "name": "loop",
                    "template": "say",
                    "dependencies": ["gen"],
                    "withParam": "{{tasks.gen.outputs.result}}",
                    "arguments": {"parameters": [{"name": "v", "value": "{{item}}"}]},
                },
                {"name": "after", "template": "gen", "dependencies": ["loop"]},
            ]
        },
    }
    say = container("say", "echo {{inputs.parameters.v}}", inputs={"parameters": [{"name": "v"}]})
    wf = api.run(workflow("main", [dag, _print_list(), say]))
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    nodes = by_display(wf)
    loop = nodes["loop"]
    assert (loop["type"], loop["phase"], loop["message"]) == (
        "Skipped",
        "Skipped",
        "Skipped, empty params",
    )
    assert loop["templateName"] == "say"
    assert nodes["after"]["phase"] == "Succeeded"
    assert not [n for n in nodes if n.startswith("loop(")]  # no group, no iteration
    # the skipped node leads on to the task that depends on it
    assert nodes["after"]["id"] in loop["children"]


def test_empty_with_items_in_steps_is_skipped_and_the_next_group_runs(api: Client) -> None:
    steps = {
        "name": "main",
        "steps": [
            [{"name": "none", "template": "gen", "withItems": []}],
            [{"name": "next", "template": "gen"}],
        ],
    }
    wf = api.run(workflow("main", [steps, _print_list()]))
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    nodes = by_display(wf)
    assert (nodes["none"]["type"], nodes["none"]["phase"]) == ("Skipped", "Skipped")
    assert nodes["none"]["message"] == "Skipped, empty params"
    assert nodes["next"]["phase"] == "Succeeded"
    assert len(wf["status"]["nodes"]) == 5  # steps, [0], none, [1], next (Argo's count)


def test_a_script_without_source_gets_no_script_path_argument(api: Client) -> None:
    """Argo appends the script's path to the args only when ``source`` is not empty."""
    script = {
        "name": "main",
        "script": {"image": "busybox", "command": ["echo"], "args": ["[]"], "source": ""},
    }
    wf = api.run(workflow("main", [script]))
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    assert by_display(wf)[wf["metadata"]["name"]]["outputs"]["result"] == "[]"


def _skipped_producer(outputs: dict) -> dict:
    return container("produce", "echo never", outputs=outputs)


def test_an_artifact_argument_naming_a_skipped_tasks_output_errors_the_task(
    api: Client,
) -> None:
    produce_art = container(
        "art",
        "mkdir -p /tmp/o/sub && echo hi > /tmp/o/sub/f",
        outputs={"artifacts": [{"name": "out", "path": "/tmp/o"}]},
    )
    params = {"parameters": [{"name": "dir", "valueFrom": {"path": "/tmp/d"}}]}
    consume = container(
        "consume", "cat /tmp/in/f", inputs={"artifacts": [{"name": "data", "path": "/tmp/in"}]}
    )
    dag = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": "a", "template": "art"},
                {"name": "p", "template": "produce", "when": "false"},
                {
                    "name": "c",
                    "template": "consume",
                    "depends": "a && (p.Succeeded || p.Skipped)",
                    "arguments": {
                        "artifacts": [
                            {
                                "name": "data",
                                "from": "{{tasks.a.outputs.artifacts.out}}",
                                "subPath": "{{tasks.p.outputs.parameters.dir}}",
                            }
                        ]
                    },
                },
            ]
        },
    }
    wf = api.run(workflow("main", [dag, produce_art, _skipped_producer(params), consume]))
    assert wf["status"]["phase"] == "Error", wf["status"]
    nodes = by_display(wf)
    assert nodes["p"]["phase"] == "Skipped"
    assert nodes["c"]["phase"] == "Error"
    assert nodes["c"]["message"] == (
        f"arguments.artifacts.data.subPath: {{{{tasks.p.outputs.parameters.dir}}}} {ABSENT}"
    )
    assert "startedAt" in nodes["c"] and "podName" not in nodes["c"]


def _volume_workflow(api: Client, when: str) -> dict:
    """spec.volumes names a ConfigMap after an output of task p; c reads it."""
    for name, value in (("cm-default", "from-default"), ("cm-real", "from-real")):
        api.session.put(
            f"{api.base}/api/v1/localargo/configmaps/{NS}/{name}",
            json={"data": {"k": value}},
            timeout=30,
        )
    outputs = {
        "parameters": [
            {"name": "cm", "valueFrom": {"path": "/tmp/cm", "default": "cm-default"}},
        ]
    }
    produce = container("produce", "printf cm-real > /tmp/cm", outputs=outputs)
    read = container("read", "cat /cfg/k")
    read["container"]["volumeMounts"] = [{"name": "cfg", "mountPath": "/cfg"}]
    dag = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": "p", "template": "produce", "when": when},
                {"name": "c", "template": "read", "depends": "p.Succeeded || p.Skipped"},
            ]
        },
    }
    volumes = [
        {
            "name": "cfg",
            "configMap": {"name": "{{tasks.p.outputs.parameters.cm}}", "optional": True},
        }
    ]
    return api.run(workflow("main", [dag, produce, read], volumes=volumes))


def test_a_workflow_volume_takes_a_skipped_producers_default(api: Client) -> None:
    wf = _volume_workflow(api, "false")
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    nodes = by_display(wf)
    assert nodes["p"]["phase"] == "Skipped"
    assert nodes["c"]["outputs"]["result"] == "from-default"


def test_a_workflow_volume_takes_the_output_of_the_task_that_ran(api: Client) -> None:
    wf = _volume_workflow(api, "true")
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    assert by_display(wf)["c"]["outputs"]["result"] == "from-real"


def _steps_after_skip(step: dict, consume: dict) -> dict:
    params = {"parameters": [{"name": "out", "valueFrom": {"path": "/tmp/o"}}]}
    steps = {
        "name": "main",
        "steps": [
            [{"name": "p", "template": "produce", "when": "false"}],
            [step],
            [{"name": "never", "template": "consume"}],
        ],
    }
    return workflow("main", [steps, _skipped_producer(params), consume])


def test_a_when_naming_a_skipped_steps_output_fails_the_steps(api: Client) -> None:
    """Argo's executeSteps: a failed or errored step group fails the steps node (Failed)."""
    step = {
        "name": "c",
        "template": "consume",
        "when": '"{{steps.p.outputs.parameters.out}}" != "x"',
    }
    wf = api.run(_steps_after_skip(step, container("consume", "echo ran")))
    assert wf["status"]["phase"] == "Failed", wf["status"]
    nodes = by_display(wf)
    assert nodes["c"]["phase"] == "Error"
    assert nodes["c"]["message"] == f"when: {{{{steps.p.outputs.parameters.out}}}} {ABSENT}"
    assert nodes["[1]"]["phase"] == "Failed"
    assert nodes["[1]"]["message"] == f"child '{nodes['c']['id']}' failed"
    root = nodes[wf["metadata"]["name"]]
    assert (root["phase"], root["message"]) == ("Failed", nodes["[1]"]["message"])
    assert "never" not in nodes


def test_a_with_param_naming_a_skipped_steps_output_errors_terminally(api: Client) -> None:
    step = {
        "name": "c",
        "template": "consume",
        "withParam": "{{steps.p.outputs.parameters.out}}",
        "arguments": {"parameters": [{"name": "v", "value": "{{item}}"}]},
    }
    consume = container("consume", "echo {{inputs.parameters.v}}")
    consume["inputs"] = {"parameters": [{"name": "v"}]}
    wf = api.run(_steps_after_skip(step, consume))
    assert wf["status"]["phase"] == "Failed", wf["status"]
    nodes = by_display(wf)
    assert nodes["c"]["message"] == f"withParam: {{{{steps.p.outputs.parameters.out}}}} {ABSENT}"
    assert not [n for n in nodes if n.startswith("c(")]


def test_a_step_that_errors_fails_its_step_group_and_steps(api: Client) -> None:
    """An Error child (here: a missing input) still makes its group and the steps Failed."""
    needs = container(
        "needs", "echo {{inputs.parameters.v}}", inputs={"parameters": [{"name": "v"}]}
    )
    steps = {"name": "main", "steps": [[{"name": "s", "template": "needs"}]]}
    wf = api.run(workflow("main", [steps, needs]))
    assert wf["status"]["phase"] == "Failed", wf["status"]
    nodes = by_display(wf)
    assert nodes["s"]["phase"] == "Error"
    assert nodes["s"]["message"] == "inputs.parameters.v was not supplied"
    assert nodes["[0]"]["phase"] == "Failed"
    assert nodes[wf["metadata"]["name"]]["phase"] == "Failed"


def _echo_value() -> dict:
    return {
        "name": "echo",
        "inputs": {"parameters": [{"name": "m"}]},
        "outputs": {"parameters": [{"name": "out", "value": "{{inputs.parameters.m}}"}]},
        "container": {"image": "busybox", "command": ["sh", "-c"], "args": ["echo ok"]},
    }


def _loop(kind: str) -> dict:
    step = {
        "name": "each",
        "template": "echo",
        "withItems": [1, 2, 3],
        "arguments": {"parameters": [{"name": "m", "value": "{{item}}"}]},
    }
    body = {"dag": {"tasks": [step]}} if kind == "dag" else {"steps": [[step]]}
    prefix = "tasks" if kind == "dag" else "steps"
    return {
        "name": "main",
        **body,
        "outputs": {
            "parameters": [
                {
                    "name": "each",
                    "valueFrom": {"parameter": f"{{{{{prefix}.each.outputs.parameters.out}}}}"},
                },
                {
                    "name": "all",
                    "valueFrom": {"parameter": f"{{{{{prefix}.each.outputs.parameters}}}}"},
                },
            ]
        },
    }


def test_workflow_retry_strategy_retries_every_template_and_loops_aggregate(
    api: Client,
) -> None:
    """spec.retryStrategy is the default of every template (Argo): each node is a Retry node
    whose attempt carries the outputs; a loop's outputs aggregate over its iterations, in
    DAGs and in steps alike."""
    for kind in ("dag", "steps"):
        wf = api.run(workflow("main", [_loop(kind), _echo_value()], retryStrategy={"limit": 1}))
        assert wf["status"]["phase"] == "Succeeded", wf["status"]
        name = wf["metadata"]["name"]
        nodes = by_display(wf)
        assert nodes[name]["type"] == "Retry"
        attempt = nodes[f"{name}(0)"]
        assert attempt["type"] == ("DAG" if kind == "dag" else "Steps")
        outputs = {p["name"]: p["value"] for p in attempt["outputs"]["parameters"]}
        assert outputs == {
            "each": '["1","2","3"]',
            "all": '[{"out":"1"},{"out":"2"},{"out":"3"}]',
        }
        assert nodes[name]["outputs"] == attempt["outputs"]
        assert nodes["each(0:1)"]["type"] == "Retry"
        assert nodes["each(0:1)(0)"]["type"] == "Pod"


def test_aggregated_outputs_leave_out_failed_iterations_and_keep_json_objects(
    api: Client,
) -> None:
    emit = {
        "name": "emit",
        "inputs": {"parameters": [{"name": "m"}]},
        "outputs": {"parameters": [{"name": "out", "valueFrom": {"path": "/tmp/o"}}]},
        "container": {
            "image": "busybox",
            "command": ["sh", "-c"],
            "args": [
                "printf '{\"n\": %s}' {{inputs.parameters.m}} > /tmp/o; "
                "test {{inputs.parameters.m}} != 2"
            ],
        },
    }
    show = container("show", "echo {{inputs.parameters.v}}", inputs={"parameters": [{"name": "v"}]})
    dag = {
        "name": "main",
        "dag": {
            "tasks": [
                {
                    "name": "each",
                    "template": "emit",
                    "withItems": [1, 2, 3],
                    "continueOn": {"failed": True},
                    "arguments": {"parameters": [{"name": "m", "value": "{{item}}"}]},
                },
                {
                    "name": "show",
                    "template": "show",
                    "depends": "each",
                    "arguments": {
                        "parameters": [
                            {"name": "v", "value": "{{tasks.each.outputs.parameters.out}}"}
                        ]
                    },
                },
            ]
        },
    }
    wf = api.run(workflow("main", [dag, emit, show]))
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    nodes = by_display(wf)
    assert nodes["each(1:2)"]["phase"] == "Failed"
    assert nodes["show"]["inputs"]["parameters"][0]["value"] == '[{"n":1},{"n":3}]'
