"""The graph of a manifest, and its SVG drawing."""

from __future__ import annotations

import itertools
import time
import uuid
import xml.etree.ElementTree as ET
from collections import defaultdict

import pytest
import yaml

from apps.pipelines.graph import (
    NODE_H,
    NODE_W,
    Graph,
    GraphNode,
    graph_from_manifest,
    layout,
    render_svg,
)
from apps.pipelines.rendering import render_elyra_manifest
from apps.pipelines.spec import Node, PipelineSpec
from tests.conftest import shared_path
from ydpipelines.localargo.expressions import ExpressionError, depends_names, task_dependencies

SVG = "{http://www.w3.org/2000/svg}"


def elyra_spec() -> PipelineSpec:
    def node(i, label, kind, deps=()):
        return Node(
            id=f"id-{i}",
            label=label,
            kind=kind,
            filename=f"f{i}",
            runtime_image="python:3.11",
            depends_on=list(deps),
        )

    return PipelineSpec(
        name="p",
        nodes=[
            node(1, "Load data", "notebook"),
            node(2, 'Clean <it> & "check"', "python", ["id-1"]),
            node(3, "Report", "r", ["id-1", "id-2"]),
        ],
    )


def wf(templates, entrypoint="main", kind="Workflow", **spec):
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": kind,
        "metadata": {"generateName": "g-"},
        "spec": {"entrypoint": entrypoint, "templates": templates, **spec},
    }
    if kind == "CronWorkflow":
        doc["spec"] = {"schedules": ["* * * * *"], "workflowSpec": doc["spec"]}
    return doc


CONTAINER = {"name": "c", "container": {"image": "busybox"}}


def test_elyra_manifest_with_spec_uses_node_labels_and_kinds():
    spec = elyra_spec()
    manifest = render_elyra_manifest(spec, version_id=uuid.uuid4())
    graph = graph_from_manifest(manifest, spec.to_dict())
    assert [(n.key, n.label, n.kind, n.template) for n in graph.nodes] == [
        ("load-data", "Load data", "notebook", "load-data"),
        ("clean-it-check", 'Clean <it> & "check"', "python", "clean-it-check"),
        ("report", "Report", "r", "report"),
    ]
    assert sorted(graph.edges) == [
        ("clean-it-check", "report"),
        ("load-data", "clean-it-check"),
        ("load-data", "report"),
    ]


def test_elyra_manifest_without_spec_uses_the_template_annotations():
    manifest = render_elyra_manifest(elyra_spec(), version_id=uuid.uuid4())
    graph = graph_from_manifest(manifest)
    assert [n.label for n in graph.nodes] == ["Load data", 'Clean <it> & "check"', "Report"]
    assert {n.kind for n in graph.nodes} == {"container"}


def test_spec_without_annotations_matches_by_task_name():
    spec = elyra_spec()
    manifest = render_elyra_manifest(spec, version_id=uuid.uuid4())
    for template in manifest["spec"]["templates"]:
        template.pop("metadata", None)
    graph = graph_from_manifest(manifest, spec.to_dict())
    assert next(n.label for n in graph.nodes) == "Load data"
    assert graph.nodes[2].kind == "r"


def test_argo_upload_spec_matches_by_task_name():
    manifest = wf(
        [
            {"name": "main", "dag": {"tasks": [{"name": "Fetch", "template": "s"},
                                               {"name": "fetch", "template": "c"}]}},
            CONTAINER,
            {"name": "s", "script": {"image": "python", "source": "print(1)"}},
        ]
    )  # fmt: skip
    spec = {"nodes": [{"id": "Fetch", "label": "Fetch", "kind": "script"},
                      {"id": "fetch", "label": "fetch", "kind": "container"}]}  # fmt: skip
    graph = graph_from_manifest(manifest, spec)
    assert [(n.key, n.label, n.kind) for n in graph.nodes] == [
        ("Fetch", "Fetch", "script"),
        ("fetch", "fetch", "container"),
    ]


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("a", ["a"]),
        ("a.Succeeded", ["a"]),
        ("(task-a.Succeeded || task-b.Failed) && !task_c.Errored", ["task-a", "task-b", "task_c"]),
        ("a.AnySucceeded || a.AllFailed || b.Skipped", ["a", "b"]),
        ("step-1 && step-2.Daemoned", ["step-1", "step-2"]),
        ("", []),
    ],
)
def test_depends_names(expression, names):
    assert depends_names(expression) == names


def test_task_dependencies_read_as_argo_reads_them():
    """One rule for the engine, the upload checks and the graphs: `depends` when set, else
    `dependencies` (without repeats); a malformed expression is an error, not a guess."""
    assert task_dependencies({"dependencies": ["a", "b", "a"]}) == ["a", "b"]
    assert task_dependencies({"depends": "a.Succeeded || b", "dependencies": ["c"]}) == ["a", "b"]
    assert task_dependencies({"name": "x"}) == []
    with pytest.raises(ExpressionError):
        task_dependencies({"depends": "a.Succeeded && $b"})


def test_dag_with_dependencies_depends_nested_and_refs():
    manifest = wf(
        [
            {
                "name": "main",
                "dag": {
                    "tasks": [
                        {"name": "a", "template": "c"},
                        {"name": "b", "template": "inner", "dependencies": ["a"]},
                        {"name": "c", "template": "loop", "depends": "a.Succeeded || b.Failed"},
                        {"name": "d", "templateRef": {"name": "lib", "template": "x"},
                         "depends": "c && ghost"},
                    ]
                },
            },
            CONTAINER,
            {"name": "inner", "dag": {"tasks": [{"name": "z", "template": "c"}]}},
            {"name": "loop", "steps": [[{"name": "s", "template": "c"}]]},
        ]
    )  # fmt: skip
    graph = graph_from_manifest(manifest)
    assert [(n.key, n.kind) for n in graph.nodes] == [
        ("a", "container"),
        ("b", "dag"),
        ("c", "steps"),
        ("d", "template-ref"),
    ]
    assert graph.edges == [("a", "b"), ("a", "c"), ("b", "c"), ("c", "d")]  # no "ghost"


def test_steps_groups_follow_each_other():
    manifest = wf(
        [
            {
                "name": "main",
                "steps": [
                    [{"name": "one", "template": "c"}],
                    [{"name": "two-a", "template": "c"}, {"name": "two-b", "template": "s"}],
                    [{"name": "three", "template": "c"}],
                ],
            },
            CONTAINER,
            {"name": "s", "script": {"image": "python", "source": "print(1)"}},
        ]
    )
    graph = graph_from_manifest(manifest)
    assert [(n.key, n.kind) for n in graph.nodes] == [
        ("one", "container"),
        ("two-a", "container"),
        ("two-b", "script"),
        ("three", "container"),
    ]
    assert graph.edges == [
        ("one", "two-a"),
        ("one", "two-b"),
        ("two-a", "three"),
        ("two-b", "three"),
    ]


def test_single_template_cron_workflow_and_exit_handler():
    graph = graph_from_manifest(wf([CONTAINER], entrypoint="c", kind="CronWorkflow"))
    assert [(n.key, n.kind) for n in graph.nodes] == [("c", "container")]
    graph = graph_from_manifest(wf([CONTAINER, {**CONTAINER, "name": "bye"}], "c", onExit="bye"))
    assert [n.key for n in graph.nodes] == ["c", "onExit"]
    assert graph.edges == [("c", "onExit")]
    assert graph_from_manifest({"kind": "Workflow", "spec": {}}).nodes == []


def test_svg_structure_escaping_and_phases():
    spec = elyra_spec()
    graph = graph_from_manifest(
        render_elyra_manifest(spec, version_id=uuid.uuid4()), spec.to_dict()
    )
    graph.nodes[0].label = "A very long label that will not fit in one box at all"
    svg = render_svg(graph, phases={"load-data": "Succeeded", "report": "Failed <x>"})
    root = ET.fromstring(svg)  # well-formed: every label was escaped
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}style") is not None
    groups = root.findall(f".//{SVG}g[@data-node]")
    assert [g.get("data-node") for g in groups] == ["load-data", "clean-it-check", "report"]
    assert groups[0].get("class") == "node phase-succeeded kind-notebook"
    assert groups[1].get("class") == "node phase-pending kind-python"
    assert groups[2].get("class") == "node phase-failedx kind-r"
    assert all(g.get("tabindex") == "0" for g in groups)
    label = groups[0].find(f"{SVG}text[@class='label']").text
    assert label.endswith("\u2026") and len(label) <= 24
    assert (
        groups[0]
        .find(f"{SVG}title")
        .text.startswith(
            "A very long label that will not fit in one box at all\nnotebook: load-data"
        )
    )
    assert groups[1].find(f"{SVG}text[@class='label']").text == 'Clean <it> & "check"'
    assert "<it>" not in svg
    edges = root.findall(f".//{SVG}path[@class='edge']")
    assert len(edges) == 3
    assert all(e.get("marker-end") == "url(#ydp-arrow)" for e in edges)
    assert render_svg(graph, phases={"load-data": "Succeeded", "report": "Failed <x>"}) == svg


def test_layout_keeps_layers_and_separates_nodes():
    nodes = [GraphNode(key=f"n{i}", label=f"n{i}", kind="python") for i in range(60)]
    edges = [(f"n{i}", f"n{j}") for i in range(60) for j in (2 * i + 1, 2 * i + 2) if j < 60]
    edges.append(("n0", "n59"))  # a long edge across every layer
    plan = layout(Graph(nodes=nodes, edges=edges))
    rows = defaultdict(list)
    for _key, (x, y) in plan.positions.items():
        rows[y].append(x)
    for xs in rows.values():
        xs.sort()
        assert all(b - a >= NODE_W for a, b in itertools.pairwise(xs))
    for a, b in edges:
        assert plan.positions[b][1] > plan.positions[a][1]  # edges point down
    # A long edge bends through one point per layer it crosses.
    long_route = next(points for a, b, points in plan.routes if (a, b) == ("n0", "n59"))
    assert len(long_route) == len(rows)
    assert all(0 <= x <= plan.width and 0 <= y <= plan.height for x, y in plan.positions.values())
    assert plan.height >= len(rows) * NODE_H


def test_cycles_and_unknown_edges_do_not_break_the_drawing():
    nodes = [GraphNode(key=k, label=k, kind="container") for k in "abc"]
    graph = Graph(nodes=nodes, edges=[("a", "b"), ("b", "c"), ("c", "a"), ("a", "ghost")])
    root = ET.fromstring(render_svg(graph))
    assert len(root.findall(f".//{SVG}g[@data-node]")) == 3
    assert ET.fromstring(render_svg(Graph())) is not None


def test_a_thousand_nodes_lay_out_quickly():
    nodes = [GraphNode(key=f"step-{i}", label=f"Step {i}", kind="python") for i in range(1000)]
    edges = [(f"step-{i - 10 - (i % 3)}", f"step-{i}") for i in range(13, 1000)]
    edges += [(f"step-{i - 37}", f"step-{i}") for i in range(37, 1000, 7)]
    # CPU time of this process: the layout's own cost, not how busy the machine's other
    # processes (parallel test workers) keep the cores.
    start = time.process_time()
    svg = render_svg(Graph(nodes=nodes, edges=edges))
    elapsed = time.process_time() - start
    assert elapsed < 3, f"{elapsed:.2f} s of CPU"
    root = ET.fromstring(svg)
    assert len(root.findall(f".//{SVG}g[@data-node]")) == 1000
    assert float(root.get("width")) > 2000  # it grows rather than squeezing the boxes


def test_every_argo_example_draws():
    count = 0
    for path in sorted(shared_path("argo", "examples").rglob("*.yaml")):
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
        except yaml.YAMLError:
            continue
        for doc in docs:
            if doc.get("kind") not in ("Workflow", "WorkflowTemplate", "CronWorkflow"):
                continue
            graph = graph_from_manifest(doc)
            keys = [n.key for n in graph.nodes]
            assert len(keys) == len(set(keys)), path.name
            assert all(a in keys and b in keys for a, b in graph.edges), path.name
            root = ET.fromstring(render_svg(graph))
            assert len(root.findall(f".//{SVG}g[@data-node]")) == len(keys), path.name
            count += 1
    assert count > 50
