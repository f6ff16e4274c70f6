"""Argo YAML importer: every manifest of the corpora imports and still validates against Argo's
CRD schemas; bad manifests are refused naming the problem, the path and the line."""

from __future__ import annotations

import importlib.util
import textwrap
from functools import cache
from typing import Any

import pytest
import yaml

from apps.pipelines.importers import PipelineImportError, import_upload
from tests.conftest import SHARED, shared_path

KINDS = ("Workflow", "WorkflowTemplate", "CronWorkflow")


def _manifests() -> list[tuple[str, int]]:
    """(path inside ../shared, document index) of every Workflow-like document."""
    found = []
    roots = [SHARED / "corpora" / "hera-yaml", SHARED / "argo" / "examples"]
    for root in roots:
        for path in sorted(root.rglob("*.y*ml")):
            try:
                docs = list(yaml.safe_load_all(path.read_text()))
            except yaml.YAMLError:
                continue  # not ours to judge here; a broken corpus file fails elsewhere
            for index, doc in enumerate(docs):
                if isinstance(doc, dict) and doc.get("kind") in KINDS:
                    found.append((str(path.relative_to(SHARED)), index))
    return found or [("(corpora absent)", 0)]


@cache
def _validator(kind: str) -> Any:
    tool = shared_path("tools", "validate_argo.py")
    spec = importlib.util.spec_from_file_location("validate_argo", tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.validator(kind)


@pytest.mark.parametrize(("rel", "index"), _manifests())
def test_corpus_manifest_imports_and_validates(rel: str, index: int) -> None:
    path = shared_path(*rel.split("/"))
    docs = list(yaml.safe_load_all(path.read_text()))
    original = docs[index]
    # A file with several documents is uploaded one manifest at a time.
    data = path.read_bytes() if len(docs) == 1 else yaml.safe_dump(original).encode()
    result = import_upload(path.name, data)
    manifest = result.manifest
    errors = [
        f"{'/'.join(map(str, e.path))}: {e.message[:120]}"
        for e in _validator(manifest["kind"]).iter_errors(manifest)
    ]
    assert not errors, errors
    if original["kind"] == "CronWorkflow":
        assert manifest["kind"] == "Workflow"
        original_spec = original["spec"]["workflowSpec"]
        assert manifest["spec"].get("entrypoint") == original_spec.get("entrypoint")
        cron = result.spec_dict()["metadata"]["cron"]
        assert cron["schedules"]
    else:
        assert manifest["kind"] == original["kind"]
        assert manifest["spec"].get("entrypoint") == original["spec"].get("entrypoint")
    declared = (original["spec"].get("arguments") or {}).get("parameters") or []
    if original["kind"] != "CronWorkflow":
        assert [p["name"] for p in result.parameters] == [p["name"] for p in declared]


def _refused(text: str, name: str = "wf.yaml") -> str:
    with pytest.raises(PipelineImportError) as info:
        import_upload(name, textwrap.dedent(text).encode())
    return str(info.value)


DIAMOND = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: diamond-
spec:
  entrypoint: main
  arguments:
    parameters:
    - name: message
      value: hello
    - name: needed
      description: no default
  templates:
  - name: main
    dag:
      tasks:
      - {name: a, template: echo}
      - {name: b, template: echo, dependencies: [a]}
      - {name: c, template: echo, depends: "a.Succeeded"}
      - {name: d, template: echo, depends: "b && (c.Succeeded || c.Failed)"}
  - name: echo
    container:
      image: alpine:3.19
      command: [echo, "{{workflow.parameters.message}}"]
"""


def test_graph_and_parameters() -> None:
    result = import_upload("diamond.yaml", DIAMOND.encode())
    assert result.manifest["metadata"]["generateName"] == "diamond-"
    assert {n.id: n.depends_on for n in result.spec.nodes} == {
        "a": [],
        "b": ["a"],
        "c": ["a"],
        "d": ["b", "c"],
    }
    assert result.spec.nodes[0].runtime_image == "alpine:3.19"
    assert result.parameters == [
        {
            "name": "message",
            "type": "String",
            "default": "hello",
            "description": "",
            "required": False,
        },
        {
            "name": "needed",
            "type": "String",
            "default": None,
            "description": "no default",
            "required": True,
        },
    ]


def test_yaml_syntax_error_names_the_line() -> None:
    message = _refused(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nspec:\n  - a: b\n  c: d\n"
    )
    assert "not valid YAML" in message and "line 5" in message


def test_yaml_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    lines.append("kind: Workflow")
    assert "YAML bomb" in _refused("\n".join(lines))


def test_kind_and_api_version() -> None:
    assert "kind 'Pod' is not supported" in _refused("apiVersion: v1\nkind: Pod\n")
    message = _refused(DIAMOND.replace("argoproj.io/v1alpha1", "argoproj.io/v2"))
    assert "apiVersion: expected 'argoproj.io/v1alpha1'" in message and "(line 1)" in message


def test_missing_templates_and_tasks_are_named() -> None:
    text = (
        DIAMOND.replace("entrypoint: main", "entrypoint: mian")
        .replace("dependencies: [a]", "dependencies: [x]")
        .replace("{name: c, template: echo,", "{name: c, template: ehco,")
    )
    message = _refused(text)
    assert "spec.entrypoint: template 'mian' does not exist" in message
    assert "spec.templates[0].dag.tasks[1].dependencies: task 'x' does not exist" in message
    assert "spec.templates[0].dag.tasks[2].template: template 'ehco' does not exist" in message
    assert "(line 6)" in message  # the entrypoint's line


def test_dag_cycle_is_refused() -> None:
    text = DIAMOND.replace("{name: a, template: echo}", "{name: a, template: echo, depends: d}")
    message = _refused(text)
    cycle = message.split("form a cycle: ")[1].split(" (line")[0].split(" -> ")
    assert cycle[0] == cycle[-1] and set(cycle) in ({"a", "b", "d"}, {"a", "c", "d"})
    assert "spec.templates[0].dag.tasks" in message


def test_malformed_depends_is_refused_as_the_engine_refuses_it() -> None:
    text = DIAMOND.replace('depends: "a.Succeeded"}', 'depends: "a.Succeeded && $"}')
    message = _refused(text)
    assert "spec.templates[0].dag.tasks[2].depends: unexpected character '$'" in message


def test_typo_in_a_field_is_refused_with_a_hint() -> None:
    message = _refused(DIAMOND.replace("entrypoint: main", "entrypint: main"))
    assert "spec.entrypint: unknown field (did you mean 'entrypoint'?)" in message


def test_wrong_type_is_refused() -> None:
    message = _refused(DIAMOND.replace("command: [echo,", "command: {a: 1}\n      args: ["))
    assert "spec.templates[1].container.command" in message


def test_missing_entrypoint_on_a_workflow() -> None:
    assert "spec.entrypoint: missing" in _refused(DIAMOND.replace("  entrypoint: main\n", ""))


def test_one_manifest_per_file() -> None:
    message = _refused(DIAMOND + "---\n" + DIAMOND)
    assert "holds 2 documents" in message


def test_empty_and_non_utf8() -> None:
    assert "is empty" in _refused("# nothing\n")
    with pytest.raises(PipelineImportError, match="not UTF-8"):
        import_upload("wf.yaml", b"kind: \xff\xfe")


def test_json_upload() -> None:
    import json

    result = import_upload("wf.json", json.dumps(yaml.safe_load(DIAMOND)).encode())
    assert result.manifest["kind"] == "Workflow"
    assert "line 1" in _refused('{"kind": "Workflow",}', "wf.json")


def test_legacy_v3_fields_are_migrated() -> None:
    cron = """\
    apiVersion: argoproj.io/v1alpha1
    kind: CronWorkflow
    metadata:
      name: nightly
    spec:
      schedule: "0 2 * * *"
      timezone: Europe/Paris
      concurrencyPolicy: Forbid
      workflowMetadata:
        labels: {team: ml}
      workflowSpec:
        entrypoint: main
        synchronization:
          semaphore:
            configMapKeyRef: {name: limits, key: nightly}
        templates:
        - name: main
          synchronization:
            mutex: {name: one-at-a-time}
          container: {image: alpine:3.19, command: [date]}
    """
    result = import_upload("nightly.yaml", textwrap.dedent(cron).encode())
    manifest = result.manifest
    assert manifest["kind"] == "Workflow"
    assert manifest["metadata"] == {"generateName": "nightly-", "labels": {"team": "ml"}}
    assert manifest["spec"]["synchronization"] == {
        "semaphores": [{"configMapKeyRef": {"name": "limits", "key": "nightly"}}]
    }
    assert manifest["spec"]["templates"][0]["synchronization"] == {
        "mutexes": [{"name": "one-at-a-time"}]
    }
    cron_meta = result.spec_dict()["metadata"]["cron"]
    assert cron_meta["schedules"] == ["0 2 * * *"] and "schedule" not in cron_meta
    assert cron_meta["timezone"] == "Europe/Paris" and cron_meta["name"] == "nightly"
    notes = " ".join(result.notes)
    assert "spec.schedule" in notes and "semaphores" in notes and "mutexes" in notes
    errors = list(_validator("Workflow").iter_errors(manifest))
    assert not errors, errors


def test_server_fields_are_dropped() -> None:
    doc = yaml.safe_load(DIAMOND)
    doc["metadata"].update(uid="123", resourceVersion="9", creationTimestamp="2024-01-01T00:00:00Z")
    doc["status"] = {"phase": "Succeeded"}
    manifest = import_upload("wf.yaml", yaml.safe_dump(doc).encode()).manifest
    assert "status" not in manifest
    assert manifest["metadata"] == {"generateName": "diamond-"}


def test_undeclared_parameters_are_named() -> None:
    text = DIAMOND.replace("{{workflow.parameters.message}}", "{{workflow.parameters.mesage}}")
    text = text.replace(
        "command: [echo,", "args: ['{{inputs.parameters.who}}']\n      command: [echo,"
    )
    message = _refused(text)
    assert "spec.templates[1]: uses {{workflow.parameters.mesage}}, not declared" in message
    assert "uses {{inputs.parameters.who}}, not declared in its inputs" in message
    # {{workflow.parameters.json}} is Argo's own (all parameters as JSON).
    ok = DIAMOND.replace("{{workflow.parameters.message}}", "{{workflow.parameters.json}}")
    assert import_upload("wf.yaml", ok.encode()).manifest


def test_numbers_where_kubernetes_wants_strings() -> None:
    quantities = DIAMOND.replace(
        "image: alpine:3.19",
        "image: alpine:3.19\n      resources: {limits: {cpu: 1}, requests: {cpu: 0.5}}",
    )
    assert import_upload("wf.yaml", quantities.encode()).manifest
    env = DIAMOND.replace(
        "image: alpine:3.19", "image: alpine:3.19\n      env: [{name: A, value: 1}]"
    )
    message = _refused(env)
    assert (
        "spec.templates[1].container.env[0].value: must be a string: write '1' in quotes" in message
    )


CRON = """\
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata:
  name: nightly
spec:
  schedules: [{lines}]
  timezone: {zone}
  workflowSpec:
    entrypoint: main
    templates:
    - name: main
      container: {{image: alpine:3.19, command: [date]}}
"""


def test_cron_workflow_schedules_pass_the_recurring_run_check() -> None:
    ok = CRON.format(lines='"0 2 * * *", "@hourly"', zone="Europe/Paris")
    assert import_upload("nightly.yaml", ok.encode()).spec_dict()["metadata"]["cron"]
    message = _refused(CRON.format(lines='"0 2 * * *", "61 25 * * *"', zone="UTC"))
    assert "spec.schedules[1]" in message and "minute field '61'" in message
    message = _refused(CRON.format(lines='"0 2 31 2 *"', zone="UTC"))
    assert "spec.schedules[0]" in message and "never happens" in message
    message = _refused(CRON.format(lines='"0 2 * * *"', zone="Mars/Olympus"))
    assert "spec.timezone" in message and "'Mars/Olympus' is not a known time zone" in message
    message = _refused(CRON.format(lines="", zone="UTC"))
    assert "spec.schedules" in message and "at least one cron line" in message
