"""Rendering Elyra pipelines to Argo Workflows (docs/steps.md), checked against Argo's CRD schemas
with ../shared/tools/validate_argo.py (strict: unknown fields refused, int-or-string honoured)."""

from __future__ import annotations

import copy
import importlib.util
import json
import random
import uuid
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.pipelines.bundles import bundle_url, runner_url
from apps.pipelines.rendering import (
    ARGO_MAX_TEMPLATES,
    NODE_ID_ANNOTATION,
    NODE_LABEL_ANNOTATION,
    VERSION_LABEL,
    argo_limit_problems,
    dns_name,
    render_elyra_manifest,
    task_names,
    workflow_for_run,
)
from apps.pipelines.spec import Node, Parameter, PipelineSpec, SecretRef, VolumeMount
from tests.conftest import shared_path

VERSION = uuid.UUID("0b7c3f8e-1111-4222-8333-444455556666")


@pytest.fixture(scope="module")
def workflow_validator():
    path = shared_path("tools", "validate_argo.py")
    module_spec = importlib.util.spec_from_file_location("validate_argo", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.validator("Workflow")


def assert_valid(validator, manifest, where=""):
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.path))
    assert not errors, "\n".join(
        f"{where}{'/'.join(map(str, e.path))}: {e.message[:200]}" for e in errors[:5]
    )


def full_spec() -> PipelineSpec:
    """One pipeline that uses every property a node or the pipeline can have."""
    return PipelineSpec(
        name="Churn model: weekly!",
        description="Load, train, report",
        parameters=[
            Parameter("learning_rate", "Float", 0.05, "step size"),
            Parameter("epochs", "Integer", 10),
            Parameter("use_gpu", "Bool", True),
            Parameter("region", "String", "eu-west"),
            Parameter("dataset", "String", None, required=True),
            Parameter("note", "String", None),
        ],
        nodes=[
            Node(
                id="n-load",
                label="Load data",
                kind="notebook",
                filename="notebooks/load.ipynb",
                runtime_image="quay.io/jupyter/scipy-notebook:2024-05-27",
                cpu=0.5,
                cpu_limit=2,
                memory_gb=1.5,
                memory_limit_gb=4,
                env={"MODE": "full", "EMPTY": ""},
                dependencies=["helpers/*.py", "data.csv"],
                include_subdirectories=True,
                outputs=["data/clean.parquet"],
                parameters=["dataset", "region"],
                secrets=[SecretRef(env_var="DB_PASSWORD", name="db-creds", key="password")],
                volumes=[
                    VolumeMount(path="/mnt/data", pvc_name="shared-data", sub_path="churn"),
                    VolumeMount(path="/mnt/ref", pvc_name="reference", read_only=True),
                ],
                tolerations=[
                    {
                        "key": "dedicated",
                        "operator": "Equal",
                        "value": "ml",
                        "effect": "NoSchedule",
                    },
                    {"operator": "Exists"},
                ],
                pod_labels={"team": "growth"},
                pod_annotations={"owner": "alice@example.com"},
                shm_size="2G",
                retries=3,
                timeout_seconds=3600,
            ),
            Node(
                id="n-train",
                label="Train",
                kind="python",
                filename="scripts/train.py",
                runtime_image="pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime",
                depends_on=["n-load"],
                gpu=2,
                gpu_vendor="amd.com/gpu",
                memory_gb=16,
                outputs=["model.pt"],
                parameters=["learning_rate", "epochs", "use_gpu"],
            ),
            Node(
                id="n-report",
                label="Train",  # the same label twice: the task names must still differ
                kind="r",
                filename="report/report.R",
                runtime_image="r-base:4.3.1",
                depends_on=["n-train"],
                gpu_limit=1,
            ),
        ],
    )


def templates_by_name(manifest):
    return {t["name"]: t for t in manifest["spec"]["templates"]}


def test_full_spec_renders_a_valid_workflow(workflow_validator):
    manifest = render_elyra_manifest(full_spec(), version_id=VERSION)
    assert_valid(workflow_validator, manifest)
    assert manifest["apiVersion"] == "argoproj.io/v1alpha1"
    assert manifest["kind"] == "Workflow"
    meta = manifest["metadata"]
    assert meta["generateName"] == "churn-model-weekly-"
    assert "name" not in meta
    assert meta["labels"] == {VERSION_LABEL: str(VERSION)}
    spec = manifest["spec"]
    assert spec["entrypoint"] == "pipeline"
    assert spec["podGC"]["strategy"] == "OnPodCompletion"
    assert spec["ttlStrategy"]["secondsAfterCompletion"] > 0

    dag = templates_by_name(manifest)["pipeline"]["dag"]["tasks"]
    assert [t["name"] for t in dag] == ["load-data", "train", "train-2"]
    assert [t["template"] for t in dag] == ["load-data", "train", "train-2"]
    assert "dependencies" not in dag[0]
    assert dag[1]["dependencies"] == ["load-data"]
    assert dag[2]["dependencies"] == ["train"]


def test_parameters_are_typed_workflow_arguments():
    manifest = render_elyra_manifest(full_spec(), version_id=VERSION)
    params = {p["name"]: p for p in manifest["spec"]["arguments"]["parameters"]}
    assert params["learning_rate"] == {"name": "learning_rate", "value": "0.05",
                                       "description": "step size"}  # fmt: skip
    assert params["epochs"]["value"] == "10"
    assert params["use_gpu"]["value"] == "true"
    assert params["use_gpu"]["enum"] == ["true", "false"]
    assert params["region"]["value"] == "eu-west"
    # Required without default: no value, so a run must give one; optional: empty string.
    assert "value" not in params["dataset"]
    assert params["note"]["value"] == ""
    assert all(isinstance(p.get("value", ""), str) for p in params.values())


def test_node_container_follows_the_step_contract():
    manifest = render_elyra_manifest(full_spec(), version_id=VERSION)
    load = templates_by_name(manifest)["load-data"]
    container = load["container"]
    assert container["image"] == "quay.io/jupyter/scipy-notebook:2024-05-27"
    assert container["command"] == ["python3", "/tmp/ydp/steprunner.py"]
    assert container["args"] == [
        "--kind", "notebook", "--file", "notebooks/load.ipynb",
        "--bundle", "/tmp/ydp/bundle.zip", "--workdir", "/tmp/ydp/work",
        "--out-dir", "/tmp/ydp/out",
        "--dependency", "helpers/*.py", "--dependency", "data.csv",
        "--include-subdirectories", "--output", "data/clean.parquet",
    ]  # fmt: skip
    inputs = {a["name"]: a for a in load["inputs"]["artifacts"]}
    assert inputs["bundle"] == {
        "name": "bundle",
        "path": "/tmp/ydp/bundle.zip",
        "http": {"url": bundle_url(VERSION)},
    }
    assert inputs["steprunner"]["http"]["url"] == runner_url()
    assert inputs["steprunner"]["path"] == "/tmp/ydp/steprunner.py"
    outputs = {a["name"]: a for a in load["outputs"]["artifacts"]}
    assert set(outputs) == {
        "outputs", "mlpipeline-metrics", "mlpipeline-ui-metadata", "metric-history", "notebook",
        "notebook-html",
    }  # fmt: skip
    assert all(a["optional"] is True for a in outputs.values())
    assert outputs["outputs"]["path"] == "/tmp/ydp/out/outputs"
    assert "archive" not in outputs["outputs"]  # a directory: Argo's default tgz
    assert outputs["mlpipeline-metrics"] == {
        "name": "mlpipeline-metrics",
        "path": "/tmp/ydp/out/mlpipeline-metrics.json",
        "optional": True,
        "archive": {"none": {}},
    }
    assert outputs["notebook-html"]["path"] == "/tmp/ydp/out/notebook.html"
    assert outputs["metric-history"]["path"] == "/tmp/ydp/out/metric-history.jsonl"
    assert outputs["metric-history"]["archive"] == {"none": {}}
    # A script node has no notebook outputs; declaring none, it still passes on its ancestors'.
    report = templates_by_name(manifest)["train-2"]
    assert {a["name"] for a in report["outputs"]["artifacts"]} == {
        "outputs", "mlpipeline-metrics", "mlpipeline-ui-metadata", "metric-history",
    }  # fmt: skip
    assert "--output" not in report["container"]["args"]


def test_env_parameters_and_secrets():
    manifest = render_elyra_manifest(full_spec(), version_id=VERSION)
    templates = templates_by_name(manifest)
    env = {e["name"]: e for e in templates["load-data"]["container"]["env"]}
    assert env["MODE"]["value"] == "full"
    assert env["EMPTY"].get("value", "") == ""
    assert env["dataset"]["value"] == "{{workflow.parameters.dataset}}"
    assert env["region"]["value"] == "{{workflow.parameters.region}}"
    assert "learning_rate" not in env  # only the parameters the node uses
    assert env["DB_PASSWORD"] == {
        "name": "DB_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "db-creds", "key": "password"}},
    }
    train_env = {e["name"] for e in templates["train"]["container"]["env"]}
    assert {"learning_rate", "epochs", "use_gpu"} <= train_env


def test_resources_and_gpus():
    templates = templates_by_name(render_elyra_manifest(full_spec(), version_id=VERSION))
    assert templates["load-data"]["container"]["resources"] == {
        "requests": {"cpu": "0.5", "memory": "1.5G"},
        "limits": {"cpu": "2", "memory": "4G"},
    }
    train = templates["train"]["container"]["resources"]
    assert train["requests"] == {"memory": "16G", "amd.com/gpu": "2"}
    assert train["limits"] == {"amd.com/gpu": "2"}
    # A GPU limit alone: requests equal limits, as Kubernetes wants for extended resources.
    report = templates["train-2"]["container"]["resources"]
    assert report == {"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "1"}}


def test_volumes_shm_tolerations_metadata_retry_and_timeout():
    load = templates_by_name(render_elyra_manifest(full_spec(), version_id=VERSION))["load-data"]
    assert load["volumes"] == [
        {"name": "pvc-0", "persistentVolumeClaim": {"claimName": "shared-data"}},
        {"name": "pvc-1", "persistentVolumeClaim": {"claimName": "reference", "readOnly": True}},
        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "2G"}},
    ]
    assert load["container"]["volumeMounts"] == [
        {"name": "pvc-0", "mountPath": "/mnt/data", "subPath": "churn"},
        {"name": "pvc-1", "mountPath": "/mnt/ref", "readOnly": True},
        {"name": "shm", "mountPath": "/dev/shm"},
    ]
    assert load["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"},
        {"operator": "Exists"},
    ]
    assert load["metadata"]["labels"] == {"team": "growth"}
    assert load["metadata"]["annotations"] == {
        "owner": "alice@example.com",
        NODE_ID_ANNOTATION: "n-load",
        NODE_LABEL_ANNOTATION: "Load data",
    }
    assert load["retryStrategy"] == {"limit": 3}
    assert load["activeDeadlineSeconds"] == 3600
    train = templates_by_name(render_elyra_manifest(full_spec(), version_id=VERSION))["train"]
    assert "retryStrategy" not in train and "activeDeadlineSeconds" not in train
    assert "volumes" not in train and "tolerations" not in train


def upstream_of(manifest) -> dict[str, list[str]]:
    """task -> the tasks whose `outputs` it takes, checked consistent across the task's arguments,
    its template's inputs and its runner's --upstream args."""
    templates = templates_by_name(manifest)
    found = {}
    for task in templates["pipeline"]["dag"]["tasks"]:
        name = task["name"]
        given = (task.get("arguments") or {}).get("artifacts") or []
        parents = [a["name"].removeprefix("upstream-") for a in given]
        assert given == [
            {
                "name": f"upstream-{p}",
                "from": "{{tasks." + p + ".outputs.artifacts.outputs}}",
                "optional": True,
            }
            for p in parents
        ], name
        assert set(parents) <= set(task.get("dependencies") or []), name
        template = templates[task["template"]]
        taken = [a for a in template["inputs"]["artifacts"] if a["name"].startswith("upstream-")]
        assert taken == [
            {"name": f"upstream-{p}", "path": f"/tmp/ydp/upstream/{p}", "optional": True}
            for p in parents
        ], name
        args = template["container"]["args"]
        ups = [args[i + 1] for i, arg in enumerate(args) if arg == "--upstream"]
        assert ups == [f"/tmp/ydp/upstream/{p}" for p in parents], name
        found[name] = parents
    return found


def carriers_of(manifest) -> set[str]:
    """The templates that have an `outputs` output artifact."""
    return {
        t["name"]
        for t in manifest["spec"]["templates"]
        if any(a["name"] == "outputs" for a in (t.get("outputs") or {}).get("artifacts") or [])
    }


def test_a_task_takes_its_direct_parents_outputs_only():
    manifest = render_elyra_manifest(full_spec(), version_id=VERSION)
    # A chain load-data -> train -> train-2: train-2 sees load-data's outputs through train.
    assert upstream_of(manifest) == {"load-data": [], "train": ["load-data"], "train-2": ["train"]}
    tasks = {t["name"]: t for t in templates_by_name(manifest)["pipeline"]["dag"]["tasks"]}
    assert "arguments" not in tasks["load-data"]
    assert carriers_of(manifest) == {"load-data", "train", "train-2"}


def python_node(node_id: str, depends_on=(), outputs=()) -> Node:
    return Node(
        id=node_id,
        label=node_id,
        kind="python",
        filename=f"{node_id}.py",
        runtime_image="python:3.11",
        depends_on=list(depends_on),
        outputs=list(outputs),
    )


def test_diamond_takes_both_parents_and_not_the_grandparent(workflow_validator):
    nodes = [
        python_node("a", outputs=["a.csv"]),
        python_node("b", ["a"]),
        python_node("c", ["a"], outputs=["c.csv"]),
        python_node("d", ["c", "b"]),  # parents listed out of order: inputs follow node order
        # A branch with no outputs anywhere: nothing to take, nothing to pass on.
        python_node("x"),
        python_node("y", ["x"]),
        python_node("z", ["x", "d"]),
    ]
    manifest = render_elyra_manifest(PipelineSpec(name="diamond", nodes=nodes), version_id=VERSION)
    assert_valid(workflow_validator, manifest)
    assert upstream_of(manifest) == {
        "a": [],
        "b": ["a"],
        "c": ["a"],
        "d": ["b", "c"],
        "x": [],
        "y": [],
        "z": ["d"],  # x carries nothing: it stays a dependency only
    }
    tasks = {t["name"]: t for t in templates_by_name(manifest)["pipeline"]["dag"]["tasks"]}
    assert tasks["z"]["dependencies"] == ["x", "d"]
    assert "arguments" not in tasks["y"]
    # b declares nothing but carries a's outputs; x and y carry nothing.
    assert carriers_of(manifest) == {"a", "b", "c", "d", "z"}


def test_a_dependency_cycle_is_refused_not_looped_on():
    nodes = [python_node("a", ["c"], outputs=["a.csv"]), python_node("b", ["a"]),
             python_node("c", ["b"])]  # fmt: skip
    with pytest.raises(ValueError, match="dependency cycle"):
        render_elyra_manifest(PipelineSpec(name="loop", nodes=nodes), version_id=VERSION)


def layered_spec(count: int, *, width: int = 10, seed: int = 7) -> PipelineSpec:
    """bench/render.py's shape: layers of `width` nodes, each depending on 1 to 3 nodes of the
    layer before, one node in eight declaring an output."""
    rng = random.Random(seed)
    nodes, previous = [], []
    while len(nodes) < count:
        layer = []
        for _ in range(min(width, count - len(nodes))):
            i = len(nodes)
            deps = rng.sample(previous, k=min(len(previous), rng.randint(1, 3)))
            nodes.append(
                Node(
                    id=f"n{i}",
                    label=f"Step {i} {['notebook', 'python', 'r'][i % 3]}",
                    kind=["notebook", "python", "r"][i % 3],
                    filename=f"steps/step_{i}.x",
                    runtime_image="python:3.11-slim",
                    depends_on=sorted(deps),
                    cpu=1,
                    memory_gb=2,
                    env={"STEP": str(i)},
                    outputs=[f"out_{i}.csv"] if i % 8 == 0 else [],
                    parameters=["alpha"],
                )
            )
            layer.append(f"n{i}")
        previous = layer
    return PipelineSpec(
        name=f"layered {count}", nodes=nodes, parameters=[Parameter("alpha", "Float", 0.1)]
    )


def manifest_bytes(manifest) -> int:
    return len(json.dumps(manifest, separators=(",", ":")))


# Measured: 200 nodes render to 0.35 MiB (the former every-ancestor shape: 0.57 MiB, and
# 12.4 MiB at 1,000 nodes). The bound leaves room for small additions, not for the old shape.
MAX_BYTES_200_NODES = 450 * 1024


def test_a_200_node_pipeline_stays_small_and_grows_linearly(workflow_validator):
    manifest = render_elyra_manifest(layered_spec(200), version_id=VERSION)
    size = manifest_bytes(manifest)
    assert size < MAX_BYTES_200_NODES, f"{size / 2**20:.2f} MiB"
    # No task takes more than its (at most 3) parents' outputs, whatever its depth.
    upstream = upstream_of(manifest)
    assert max(len(p) for p in upstream.values()) <= 3
    assert sum(len(p) for p in upstream.values()) > 200  # most tasks do take some
    # Twice the nodes, about twice the bytes (the every-ancestor shape gave 3.5 times).
    double = manifest_bytes(render_elyra_manifest(layered_spec(400), version_id=VERSION))
    assert double / size < 2.3, double / size
    # Only the template count stops a real cluster now: 201 templates for 200 nodes...
    assert argo_limit_problems(manifest) == [
        "201 templates: Argo's CRD allows at most 200 (one template per node), so a cluster "
        "with the full CRDs installed refuses it"
    ]
    # ...and the CRD schema agrees: 199 nodes validate, with no limit problem, 200 do not.
    biggest = render_elyra_manifest(layered_spec(199), version_id=VERSION)
    assert_valid(workflow_validator, biggest)
    assert argo_limit_problems(biggest) == []
    errors = [e.message for e in workflow_validator.iter_errors(manifest)]
    assert len(errors) == 1 and errors[0].endswith("is too long")


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Load data", "load-data"),
        ("  Train / Évaluer (v2)  ", "train-valuer-v2"),
        ("2nd step", "s-2nd-step"),
        ("___", "step"),
        ("x" * 100, "x" * 48),
    ],
)
def test_dns_names(label, expected):
    assert dns_name(label) == expected


def test_task_names_are_unique_and_deterministic():
    nodes = [
        Node(id=str(i), label=label, kind="python", filename="a.py", runtime_image="python:3")
        for i, label in enumerate(["Pipeline", "step", "Step", "STEP!", "", "a" * 60, "a" * 61])
    ]
    names = task_names(nodes)
    assert list(names.values()) == [
        "pipeline-2",  # "pipeline" is the DAG template's name
        "step",
        "step-2",
        "step-3",
        "a-py",  # no label: the file name
        "a" * 48,
        "a" * 46 + "-2",
    ]
    assert names == task_names(nodes)


def test_generated_pipeline_validates(workflow_validator):
    """A wider pipeline: fan out, fan in, long edges, parameters on every node."""
    nodes = []
    for i in range(40):
        deps = [str(j) for j in (i - 1, i - 5, i - 13) if j >= 0][: 1 + i % 3]
        nodes.append(
            Node(
                id=str(i),
                label=f"Step {i}",
                kind=["notebook", "python", "r"][i % 3],
                filename=f"s/{i}.x",
                runtime_image="python:3.11",
                depends_on=deps,
                outputs=["o.txt"] if i % 4 == 0 else [],
                parameters=["p"],
                cpu=1,
                memory_gb=0.25,
            )
        )
    spec = PipelineSpec(name="wide", nodes=nodes, parameters=[Parameter("p", "Integer", 1)])
    manifest = render_elyra_manifest(spec, version_id=VERSION)
    assert_valid(workflow_validator, manifest)
    assert len(manifest["spec"]["templates"]) == 41


def test_argo_limits_are_reported():
    small = render_elyra_manifest(full_spec(), version_id=VERSION)
    assert argo_limit_problems(small) == []
    nodes = [
        Node(id=str(i), label=f"n{i}", kind="python", filename="a.py", runtime_image="python:3")
        for i in range(ARGO_MAX_TEMPLATES)
    ]
    big = render_elyra_manifest(PipelineSpec(name="big", nodes=nodes), version_id=VERSION)
    problems = argo_limit_problems(big)
    assert problems[0].startswith("201 templates: Argo's CRD allows at most 200")
    assert len(problems) == 1  # 200 DAG tasks are still allowed
    # 199 nodes (plus the DAG template) are the most a cluster takes.
    fits = PipelineSpec(name="fits", nodes=nodes[: ARGO_MAX_TEMPLATES - 1])
    assert argo_limit_problems(render_elyra_manifest(fits, version_id=VERSION)) == []


def test_manifest_is_plain_json_and_deterministic():
    first = render_elyra_manifest(full_spec(), version_id=VERSION)
    second = render_elyra_manifest(full_spec(), version_id=str(VERSION))
    assert first == second
    assert yaml.safe_load(yaml.safe_dump(first)) == first


# --- workflow_for_run ---------------------------------------------------------------------------


def test_workflow_for_run(workflow_validator):
    manifest = render_elyra_manifest(full_spec(), version_id=VERSION)
    before = copy.deepcopy(manifest)
    run = workflow_for_run(
        manifest,
        name="churn-model-abc123",
        namespace="argo",
        parameters={"dataset": "s3://x/y.csv", "epochs": 20, "use_gpu": False},
        labels={"ydpipelines.io/run": "abc123"},
    )
    assert manifest == before  # a copy: the stored manifest is untouched
    assert_valid(workflow_validator, run)
    assert run["metadata"]["name"] == "churn-model-abc123"
    assert "generateName" not in run["metadata"]
    assert run["metadata"]["namespace"] == "argo"
    assert run["metadata"]["labels"] == {
        VERSION_LABEL: str(VERSION),
        "ydpipelines.io/run": "abc123",
    }
    values = {p["name"]: p.get("value") for p in run["spec"]["arguments"]["parameters"]}
    assert values["dataset"] == "s3://x/y.csv"
    assert values["epochs"] == "20"
    assert values["use_gpu"] == "false"
    assert values["learning_rate"] == "0.05"  # untouched defaults stay


def test_workflow_for_run_refuses_unknown_parameters():
    manifest = render_elyra_manifest(full_spec(), version_id=VERSION)
    with pytest.raises(ValueError, match=r"unknown parameters: bogus, nope"):
        workflow_for_run(
            manifest,
            name="x",
            namespace="argo",
            parameters={"nope": 1, "bogus": 2, "epochs": 3},
            labels={},
        )


def test_workflow_for_run_normalises_and_checks_booleans():
    manifest = render_elyra_manifest(full_spec(), version_id=VERSION)

    def values(params):
        run = workflow_for_run(manifest, name="x", namespace="n", parameters=params, labels={})
        return {p["name"]: p.get("value") for p in run["spec"]["arguments"]["parameters"]}

    assert values({"use_gpu": "True"})["use_gpu"] == "true"
    assert values({"use_gpu": True, "epochs": 2.0})["use_gpu"] == "true"
    assert values({"region": ["a", "b"]})["region"] == '["a", "b"]'
    with pytest.raises(ValueError, match=r"parameter use_gpu: 'maybe' is not one of true, false"):
        values({"use_gpu": "maybe"})


def test_workflow_template_becomes_a_workflow(workflow_validator):
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "hello", "labels": {"a": "b"}, "resourceVersion": "12"},
        "spec": {
            "entrypoint": "main",
            "arguments": {"parameters": [{"name": "message", "value": "hi"}]},
            "templates": [
                {
                    "name": "main",
                    "inputs": {"parameters": [{"name": "message"}]},
                    "container": {
                        "image": "busybox",
                        "args": ["echo", "{{inputs.parameters.message}}"],
                    },
                }
            ],
        },
    }  # fmt: skip
    run = workflow_for_run(
        template, name="hello-1", namespace="team", parameters={"message": "yo"}, labels={"c": "d"}
    )
    assert_valid(workflow_validator, run)
    assert run["kind"] == "Workflow"
    assert run["metadata"] == {
        "name": "hello-1",
        "namespace": "team",
        "labels": {"a": "b", "c": "d"},
    }
    assert run["spec"]["arguments"]["parameters"] == [{"name": "message", "value": "yo"}]
    assert template["kind"] == "WorkflowTemplate"


def test_argo_examples_survive_workflow_for_run(workflow_validator):
    """Every Workflow and WorkflowTemplate example of Argo, made into a run, still validates."""
    count = 0
    for path in sorted(shared_path("argo", "examples").rglob("*.yaml")):
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
        except yaml.YAMLError:
            continue
        for doc in docs:
            if doc.get("kind") not in ("Workflow", "WorkflowTemplate"):
                continue
            if list(workflow_validator.iter_errors(doc)) and doc["kind"] == "Workflow":
                continue  # an example the schema itself refuses is not ours to fix
            params = (doc.get("spec", {}).get("arguments") or {}).get("parameters") or []
            run = workflow_for_run(
                doc,
                name=f"run-{count}",
                namespace="argo",
                parameters={p["name"]: "x" for p in params[:1]},
                labels={"ydpipelines.io/run": str(count)},
            )
            assert_valid(workflow_validator, run, f"{path.name}: ")
            count += 1
    assert count > 50


# --- the corpora: every importable Elyra pipeline renders to a valid Workflow ---------------------


def corpus_pipelines() -> list[Path]:
    root = shared_path("corpora")
    return sorted(root.rglob("*.pipeline"))


def test_every_importable_corpus_pipeline_renders(workflow_validator):
    importers = pytest.importorskip("apps.pipelines.importers")
    if not hasattr(importers, "import_upload"):
        pytest.skip("the Elyra importer is not installed yet")
    rendered, refused = [], []
    for path in corpus_pipelines():
        try:
            result = importers.import_upload(path.name, path.read_bytes())
        except importers.PipelineImportError as exc:
            refused.append(f"{path}: {exc}")
            continue
        if result.source_format != "elyra":
            continue
        manifest = render_elyra_manifest(result.spec, version_id=uuid.uuid4())
        assert_valid(workflow_validator, manifest, f"{path}: ")
        assert len(manifest["spec"]["templates"]) == len(result.spec.nodes) + 1
        rendered.append(path)
    assert len(rendered) >= 10, f"only {len(rendered)} rendered; refused: {refused[:5]}"


# --- render_pipeline ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_render_pipeline_command_prints_the_stored_manifest(capsys):
    from django.core.files.base import ContentFile

    from apps.pipelines.models import Pipeline, PipelineVersion

    pipeline = Pipeline.objects.create(name="cmd")
    version = PipelineVersion(
        pipeline=pipeline,
        name="v1",
        source_format="elyra",
        source_filename="x.pipeline",
        manifest={},
        content_hash="0" * 64,
    )
    version.manifest = render_elyra_manifest(full_spec(), version_id=version.id)
    version.bundle.save("bundle.zip", ContentFile(b"PK\x05\x06" + b"\0" * 18), save=False)
    version.save()
    call_command("render_pipeline", str(version.id))
    out = capsys.readouterr().out
    assert yaml.safe_load(out) == version.manifest
    assert out.startswith("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\n")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arg", "message"),
    # a fixed id: xdist workers must collect the same test names
    [("nope", "not a version id"), (str(uuid.UUID(int=1)), "no pipeline version with id")],
)
def test_render_pipeline_command_bad_id(arg, message):
    with pytest.raises(CommandError, match=message):
        call_command("render_pipeline", arg)


def test_render_pipeline_exits_1_with_one_line_on_stderr():
    import subprocess
    import sys

    from django.conf import settings

    done = subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "render_pipeline", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "CommandError: not a version id (expected a UUID): 'nope'"
    ]
