"""expr-lang pipes and builtins, template input defaults, workflow-level exit hook arguments,
``workflow.labels.json``, lifecycle hooks and artifact GC (issue 9, part B), each over real HTTP."""

from __future__ import annotations

import pytest

from .conftest import ApiFailure, Client, container, workflow
from .test_run import by_display


def show(name: str, *params: str, **extra) -> dict:
    """A template echoing its input parameters, one per line."""
    lines = " ".join(f"'{{{{inputs.parameters.{p}}}}}'" for p in params)
    return container(
        name,
        f"printf '%s\\n' {lines}",
        inputs={"parameters": [{"name": p} for p in params]},
        **extra,
    )


def test_pipes_closures_and_govaluate_in_decide_which_items_run(api: Client) -> None:
    """Argo's steps-when-expr-filter, smaller: an input default built with ``| toJSON()``,
    read back with ``| fromJSON() | join()`` inside a govaluate ``in``."""
    main = {
        "name": "main",
        "inputs": {
            "parameters": [
                {"name": "keep", "value": "yes"},
                {
                    "name": "list",
                    "value": "{{= concat(['a'], inputs.parameters.keep == 'yes' ? ['b'] : [])"
                    " | toJSON() }}",
                },
            ]
        },
        "steps": [
            [
                {
                    "name": "s",
                    "template": "say",
                    "when": "\"{{= get(item, 'k') ?? 'a' }}\" in "
                    '("{{= inputs.parameters.list | fromJSON() | join(\'","\') }}")',
                    "withParam": '[{"k": "a"}, {"k": "b"}, {"k": "c"}, {}]',
                    "arguments": {
                        "parameters": [
                            {
                                "name": "v",
                                "value": "{{= filter([1, 2, 3, 4], # > 2) | map(# * 10)"
                                " | toJSON() | fromJSON() | sum() }}",
                            }
                        ]
                    },
                }
            ]
        ],
    }
    wf = api.run(workflow("main", [main, show("say", "v")]))
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    nodes = by_display(wf)
    # expr-lang's toJSON indents by two spaces, as Argo hands it on
    assert nodes[wf["metadata"]["name"]]["inputs"]["parameters"][1]["value"] == (
        '[\n  "a",\n  "b"\n]'
    )
    assert nodes["s(0:k:a)"]["phase"] == "Succeeded"
    assert nodes["s(1:k:b)"]["phase"] == "Succeeded"
    assert nodes["s(2:k:c)"]["phase"] == "Skipped"
    assert nodes["s(3:)"]["phase"] == "Succeeded"  # no k: `?? 'a'`
    assert nodes["s(0:k:a)"]["outputs"]["result"] == "70"


def test_an_unknown_function_after_a_pipe_is_refused_at_create(api: Client) -> None:
    tmpl = container("main", "echo '{{= [1] | nosuch() }}'")
    with pytest.raises(ApiFailure) as err:
        api.create(workflow("main", [tmpl]))
    assert err.value.status == 400
    assert err.value.body["message"].startswith("unsupported: spec.templates[0].container.args[0]")
    assert "unsupported function nosuch" in err.value.body["message"]


def test_input_defaults_see_globals_and_the_inputs_declared_before(api: Client) -> None:
    """Argo's global-parameters-complex: the entrypoint's inputs take the workflow's arguments
    by name, and a default may name a global or an earlier input."""
    main = {
        "name": "main",
        "inputs": {
            "parameters": [
                {"name": "m1"},
                {
                    "name": "internal",
                    "value": "{{workflow.parameters.m1}}+{{inputs.parameters.m1}}",
                },
                {"name": "later", "value": "{{=sprig.upper(inputs.parameters.internal)}}"},
            ]
        },
        "steps": [
            [
                {
                    "name": "s",
                    "template": "say",
                    "arguments": {
                        "parameters": [
                            {"name": "a", "value": "{{inputs.parameters.internal}}"},
                            {"name": "b", "value": "{{inputs.parameters.later}}"},
                        ]
                    },
                }
            ]
        ],
    }
    wf = api.run(
        workflow(
            "main",
            [main, show("say", "a", "b")],
            arguments={"parameters": [{"name": "m1", "value": "hi"}]},
        )
    )
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    assert by_display(wf)["s"]["outputs"]["result"] == "hi+hi\nHI+HI"


def test_exit_hook_arguments_are_rendered_with_the_workflow_status(api: Client) -> None:
    """Argo's workflow-hook-parameter: ``hooks.exit.arguments`` reach the handler's inputs."""
    hook = {
        "template": "say",
        "arguments": {
            "parameters": [
                {"name": "t", "value": '{{= workflow.status == "Failed" ? "bad" : "good" }}'},
                {"name": "s", "value": "{{workflow.status}}"},
            ]
        },
    }
    wf = api.run(
        workflow("main", [container("main", "exit 1"), show("say", "t", "s")], hooks={"exit": hook})
    )
    assert wf["status"]["phase"] == "Failed", wf["status"]
    handler = by_display(wf)[f"{wf['metadata']['name']}.onExit"]
    assert handler["phase"] == "Succeeded"
    assert handler["inputs"]["parameters"] == [
        {"name": "t", "value": "bad"},
        {"name": "s", "value": "Failed"},
    ]
    assert handler["outputs"]["result"] == "bad\nFailed"


def test_labels_and_annotations_as_json_for_jsonpath(api: Client) -> None:
    tmpl = container(
        "main",
        "echo '{{=jsonpath(workflow.labels.json, \"$.team\")}}' "
        "'{{=jsonpath(workflow.annotations.json, \"$.note\")}}'",
    )
    wf = workflow("main", [tmpl])
    wf["metadata"].update(labels={"team": "ml"}, annotations={"note": "hello"})
    done = api.run(wf)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert by_display(done)[done["metadata"]["name"]]["outputs"]["result"] == "ml hello"


def test_artifact_gc_deletes_at_completion_or_deletion_as_each_artifact_says(
    api: Client,
) -> None:
    """Argo's artifact-gc-workflow example: the workflow's strategy (OnWorkflowDeletion) is the
    default, an artifact's own wins (OnWorkflowCompletion, Never)."""
    outputs = {
        "artifacts": [
            {"name": "done", "path": "/tmp/a", "artifactGC": {"strategy": "OnWorkflowCompletion"}},
            {"name": "deleted", "path": "/tmp/a"},
            {"name": "kept", "path": "/tmp/a", "artifactGC": {"strategy": "Never"}},
        ]
    }
    tmpl = container("main", "echo x > /tmp/a", outputs=outputs)
    wf = api.run(workflow("main", [tmpl], artifactGC={"strategy": "OnWorkflowDeletion"}))
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    name, uid = wf["metadata"]["name"], wf["metadata"]["uid"]

    def fetch(base: str) -> dict[str, int]:
        return {
            art: api.session.get(f"{api.base}/{base}/{name}/{art}", timeout=30).status_code
            for art in ("done", "deleted", "kept")
        }

    marks = {
        a["name"]: a.get("deleted", False) for a in by_display(wf)[name]["outputs"]["artifacts"]
    }
    assert marks == {"done": True, "deleted": False, "kept": False}
    assert fetch(f"artifacts/default/{name}") == {"done": 404, "deleted": 200, "kept": 200}
    api.call("DELETE", f"/api/v1/workflows/default/{name}")
    assert fetch(f"artifacts-by-uid/{uid}") == {"done": 404, "deleted": 404, "kept": 200}
    archived = api.call("GET", f"/api/v1/archived-workflows/{uid}")
    marks = {
        a["name"]: a.get("deleted", False)
        for a in by_display(archived)[name]["outputs"]["artifacts"]
    }
    assert marks == {"done": True, "deleted": True, "kept": False}


def test_an_unknown_artifact_gc_strategy_is_refused(api: Client) -> None:
    wf = workflow("main", [container("main", "true")], artifactGC={"strategy": "Sometimes"})
    with pytest.raises(ApiFailure) as err:
        api.create(wf)
    assert err.value.status == 400
    assert err.value.body["message"] == (
        "spec.artifactGC.strategy 'Sometimes' must be one of "
        "OnWorkflowCompletion, OnWorkflowDeletion, Never"
    )


def test_workflow_lifecycle_hooks_run_once_when_their_expression_holds(api: Client) -> None:
    """Argo's TestWorkflowLevelHooks{Success,Fail}Version: `running` runs alongside the
    steps, `failed` once the workflow's status is known; `succeeded` never; the workflow
    completes after its hooks and keeps its own phase."""
    hooks = {
        "running": {"expression": 'workflow.status == "Running"', "template": "hook"},
        "failed": {
            "expression": 'workflow.status == "Failed"',
            "template": "hook",
            "arguments": {"parameters": [{"name": "v", "value": "{{workflow.status}}"}]},
        },
        "succeeded": {"expression": 'workflow.status == "Succeeded"', "template": "hook"},
    }
    main = container("main", "sleep 1; exit 1")
    hook = container(
        "hook",
        "sleep 1; echo '{{inputs.parameters.v}}'",
        inputs={"parameters": [{"name": "v", "value": "none"}]},
    )
    wf = api.run(workflow("main", [main, hook], hooks=hooks))
    name = wf["metadata"]["name"]
    assert wf["status"]["phase"] == "Failed", wf["status"]
    nodes = {n["name"]: n for n in wf["status"]["nodes"].values()}
    assert nodes[f"{name}.hooks.running"]["phase"] == "Succeeded"
    assert nodes[f"{name}.hooks.running"]["outputs"]["result"] == "none"
    assert nodes[f"{name}.hooks.failed"]["phase"] == "Succeeded"
    assert nodes[f"{name}.hooks.failed"]["outputs"]["result"] == "Failed"
    assert f"{name}.hooks.succeeded" not in nodes
    # the running hook started while the main step ran, not after it
    assert nodes[f"{name}.hooks.running"]["startedAt"] < nodes[name]["finishedAt"]


@pytest.mark.parametrize(
    ("hooks", "message"),
    [
        ({"running": {"template": "main"}}, "spec.hooks.running.expression is required"),
        ({"running": {"expression": "true"}}, "spec.hooks.running.template is required"),
        (
            {"running": {"expression": "date('2024') > 1", "template": "main"}},
            "unsupported: spec.hooks.running.expression (unsupported function date)",
        ),
    ],
)
def test_a_workflow_hook_without_expression_or_template_is_refused(
    api: Client, hooks: dict, message: str
) -> None:
    with pytest.raises(ApiFailure) as err:
        api.create(workflow("main", [container("main", "true")], hooks=hooks))
    assert err.value.status == 400
    assert err.value.body["message"] == message
