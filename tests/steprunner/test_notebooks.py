"""The step runner on notebooks, through a real Jupyter kernel (papermill), and the example
pipelines run node by node in DAG order as the engine would run them."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import subprocess
import sysconfig
from pathlib import Path

import nbformat
import pytest

from apps.pipelines.constants import DEFAULT_RUNTIME_IMAGE
from tests.conftest import shared_path
from tests.steprunner.helpers import (
    EXAMPLES,
    RUNNER,
    bundle_folder,
    make_bundle,
    pipeline_nodes,
    run_step,
)


def notebook(*cells: str, kernel: str = "python3") -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    return nbformat.writes(nb)


def test_notebook_with_env_parameter_metrics_and_inlined_confusion_matrix(tmp_path):
    nb = notebook(
        "import json, os\n"
        "threshold = float(os.environ['THRESHOLD'])\n"
        "print('threshold', threshold)",
        "import time\nfor i in range(2):\n    print('epoch', i, flush=True)\n    time.sleep(0.1)",
        "open('cm.csv', 'w').write('no,no,8\\nno,yes,2\\nyes,no,1\\nyes,yes,9\\n')\n"
        "json.dump({'outputs': [{'type': 'confusion_matrix', 'format': 'csv', 'source': 'cm.csv',"
        " 'schema': [{'name': 'target', 'type': 'CATEGORY'}, {'name': 'predicted',"
        " 'type': 'CATEGORY'}, {'name': 'count', 'type': 'NUMBER'}], 'labels': ['no', 'yes']}]},"
        " open('mlpipeline-ui-metadata.json', 'w'))\n"
        "json.dump({'metrics': [{'name': 'threshold', 'numberValue': threshold}]},"
        " open('mlpipeline-metrics.json', 'w'))",
        # A kernel this machine lacks: the runner says so and uses python3.
        kernel="conda-env-forgotten-py",
    )
    bundle = make_bundle(tmp_path / "b.zip", {"nbs/score.ipynb": nb})
    args = ["--kind", "notebook", "--file", "nbs/score.ipynb", "--output", "cm.csv"]
    step = run_step(tmp_path, "nb", *args, bundle=bundle, env={"THRESHOLD": "0.7"})
    assert step.code == 0, step.log
    assert "kernel 'conda-env-forgotten-py' of score.ipynb is not installed here" in step.log
    assert "[ydp] running notebook score.ipynb with kernel python3" in step.log
    # Cell output is in the log as it comes, in order.
    assert step.log.index("threshold 0.7") < step.log.index("epoch 0") < step.log.index("epoch 1")
    assert step.json("mlpipeline-metrics.json")["metrics"] == [
        {"name": "threshold", "numberValue": 0.7, "format": "RAW"}
    ]
    (cm,) = step.json("mlpipeline-ui-metadata.json")["outputs"]
    assert cm["storage"] == "inline"
    assert list(csv.reader(io.StringIO(cm["source"])))[3] == ["yes", "yes", "9"]
    executed = nbformat.read(step.out / "notebook.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "threshold 0.7\n"
    html = (step.out / "notebook.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "epoch 1" in html
    assert (step.out / "outputs/cm.csv").exists()


def run_pipeline(tmp_path, folder, params=None):
    """Run each node of an example pipeline in DAG order, each with its direct parents' outputs
    (which hold what they passed on from their own ancestors), as the rendered workflow does.
    Stops at the first failing node; returns {node name: Step}."""
    bundle = bundle_folder(folder, tmp_path / "bundle.zip")
    (pipeline_file,) = folder.glob("*.pipeline")
    nodes, defaults = pipeline_nodes(pipeline_file)
    values = {**defaults, **(params or {})}
    steps = {}
    for node in nodes:
        env = dict(node["env"])
        env.update({name: values[name] for name in node["parameters"]})
        upstream = []
        for parent in node["parents"]:
            upstream += ["--upstream", str(steps[parent].out / "outputs")]
        steps[node["name"]] = run_step(
            tmp_path, node["name"], *node["args"], *upstream, bundle=bundle, env=env
        )
        if steps[node["name"]].code != 0:
            break
    return steps


@pytest.mark.slow
def test_demo_pipeline_runs_node_by_node(tmp_path):
    steps = run_pipeline(tmp_path, EXAMPLES / "demo", params={"MAX_DEPTH": "3"})
    assert list(steps) == ["prepare_data", "profile_data", "train_model", "evaluate_model"]
    for name, step in steps.items():
        assert step.code == 0, f"{name}:\n{step.log}"

    prepare = steps["prepare_data"]
    assert "filled 10 missing monthly_charges" in prepare.log
    train_rows = (prepare.out / "outputs/train.csv").read_text().count("\n") - 1
    test_rows = (prepare.out / "outputs/test.csv").read_text().count("\n") - 1
    assert (train_rows, test_rows) == (450, 150)
    (summary,) = prepare.json("mlpipeline-ui-metadata.json")["outputs"]
    assert summary["type"] == "markdown" and "| train | 450 |" in summary["source"]

    profile = steps["profile_data"]
    web, markdown = profile.json("mlpipeline-ui-metadata.json")["outputs"]
    assert web["type"] == "web-app" and web["storage"] == "inline"
    assert "<h1>Customer data profile</h1>" in web["source"] and "<svg" in web["source"]
    assert markdown["type"] == "markdown" and "| Contract | month-to-month" in markdown["source"]
    assert (profile.out / "outputs/data_profile.html").read_text() == web["source"]
    assert (profile.out / "notebook.html").exists()

    train = steps["train_model"]
    assert "MAX_DEPTH=3 MIN_SAMPLES_LEAF=10" in train.log  # the non-default parameter arrived
    model = json.loads((train.out / "outputs/model.json").read_text())
    assert model["max_depth"] == 3
    train_metrics = {m["name"]: m for m in train.json("mlpipeline-metrics.json")["metrics"]}
    assert 2 <= train_metrics["tree-leaves"]["numberValue"] <= 8
    # The learning curve: one train-loss and one test-loss point per depth, falling on train.
    points = [json.loads(line) for line in (train.out / "metric-history.jsonl").open()]
    train_loss = [p["value"] for p in points if p["name"] == "train-loss"]
    assert [p["step"] for p in points if p["name"] == "test-loss"] == [1, 2, 3]
    assert len(train_loss) == 3 and train_loss[0] > train_loss[-1]
    assert (
        "## Decision tree (max depth 3"
        in train.json("mlpipeline-ui-metadata.json")["outputs"][0]["source"]
    )

    evaluate = steps["evaluate_model"]
    metrics = {m["name"]: m for m in evaluate.json("mlpipeline-metrics.json")["metrics"]}
    assert set(metrics) == {"accuracy", "precision", "recall", "f1", "roc-auc"}
    assert metrics["accuracy"]["format"] == "PERCENTAGE"
    assert 0.6 < metrics["accuracy"]["numberValue"] < 1
    assert 0.6 < metrics["roc-auc"]["numberValue"] <= 1
    cm, roc, table = evaluate.json("mlpipeline-ui-metadata.json")["outputs"]
    assert cm["type"] == "confusion_matrix" and cm["storage"] == "inline"
    assert cm["labels"] == ["stays", "churns"]
    cells = list(csv.reader(io.StringIO(cm["source"])))
    assert len(cells) == 4 and sum(int(c[2]) for c in cells) == test_rows
    assert roc["type"] == "roc" and roc["storage"] == "inline"
    points = [tuple(map(float, r)) for r in csv.reader(io.StringIO(roc["source"]))]
    assert points[0][:2] == (0.0, 0.0) and points[-1][:2] == (1.0, 1.0)
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in itertools.pairwise(points))
    assert table["type"] == "table" and table["header"] == ["feature", "importance"]
    # Its declared outputs, and what it passes on: train's model and, through train, prepare's
    # data (evaluate's only parent is train; it still read test.csv above).
    assert {"confusion_matrix.csv", "roc.csv", "model.json", "train.csv", "test.csv"} == {
        p.name for p in (evaluate.out / "outputs").iterdir()
    }
    assert (evaluate.out / "outputs/test.csv").read_bytes() == (
        prepare.out / "outputs/test.csv"
    ).read_bytes()


@pytest.mark.slow
def test_failing_example_stops_at_the_notebook_that_raises(tmp_path):
    steps = run_pipeline(tmp_path, EXAMPLES / "failing")
    assert list(steps) == ["make_numbers", "check_numbers"]  # "report" never runs
    assert steps["make_numbers"].code == 0
    failed = steps["check_numbers"]
    assert failed.code == 1
    assert "[ydp] notebook check_numbers.ipynb raised ValueError in cell 2" in failed.log
    assert "Traceback" in failed.log and "numbers are negative" in failed.log
    assert "\x1b[" not in failed.log  # the traceback is plain text, not terminal colours
    assert failed.log.rstrip().splitlines()[-1].startswith("[ydp] exit code 1")
    # The executed notebook and its HTML are kept even though the notebook raised.
    html = (failed.out / "notebook.html").read_text()
    assert "ValueError" in html and "numbers are negative" in html
    executed = nbformat.read(failed.out / "notebook.ipynb", as_version=4)
    assert any(o.get("ename") == "ValueError" for c in executed.cells for o in c.get("outputs", []))


@pytest.mark.parametrize("folder", ["demo", "failing"])
def test_example_pipelines_are_valid_elyra_v8_files(folder):
    """Valid against Elyra's pipeline-flow v3 schema, format version 8, and every file a node
    names (its file, its dependencies) is in the folder."""
    from jsonschema import Draft4Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    schemas = shared_path("corpora", "elyra-schema", "common-pipeline")
    resources = []
    for path in schemas.rglob("*-schema.json"):
        contents = json.loads(path.read_text())
        resource = Resource.from_contents(contents, default_specification=DRAFT4)
        resources.append((contents["id"], resource))
        resources.append((contents["id"].replace("https://", "http://"), resource))
    registry = Registry().with_resources(resources)
    flow_schema = json.loads((schemas / "pipeline-flow/pipeline-flow-v3-schema.json").read_text())

    (pipeline_file,) = (EXAMPLES / folder).glob("*.pipeline")
    flow = json.loads(pipeline_file.read_text())
    errors = sorted(
        Draft4Validator(flow_schema, registry=registry).iter_errors(flow), key=lambda e: e.path
    )
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    primary = flow["pipelines"][0]
    assert flow["version"] == "3.0" and primary["app_data"]["version"] == 8
    declared = {p["name"] for p in primary["app_data"]["properties"]["pipeline_parameters"]}
    for node in primary["nodes"]:
        params = node["app_data"]["component_parameters"]
        assert (EXAMPLES / folder / params["filename"]).is_file(), params["filename"]
        for dep in params["dependencies"]:
            assert (EXAMPLES / folder / dep).is_file(), dep
        assert set(params.get("pipeline_parameters", [])) <= declared
        assert params["runtime_image"] == DEFAULT_RUNTIME_IMAGE  # built by scripts/images.sh


def drop_flags(args: list[str], flags: tuple[str, ...]) -> list[str]:
    """`args` without the given flags and their values."""
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in flags:
            skip = True
        else:
            kept.append(arg)
    return kept


def test_rendered_demo_calls_the_runner_as_these_tests_do(tmp_path):
    """The contract across importer, renderer and runner (docs/steps.md): the real import and
    render of the demo give each container the runner arguments these tests use, and they run."""
    from apps.pipelines.importers import import_upload
    from apps.pipelines.importers.bundle import build_bundle
    from apps.pipelines.rendering import render_elyra_manifest

    folder = EXAMPLES / "demo"
    result = import_upload("demo.zip", bundle_folder(folder, tmp_path / "up.zip").read_bytes())
    manifest = render_elyra_manifest(result.spec, version_id="00000000-0000-0000-0000-0000000000d0")
    templates = manifest["spec"]["templates"]
    containers = [t["container"] for t in templates if "container" in t]
    nodes, _ = pipeline_nodes(next(folder.glob("*.pipeline")))
    paths = ("--bundle", "--workdir", "--out-dir")
    for node, container in zip(nodes, containers, strict=True):
        args = container["args"]
        assert container["command"] == ["python3", "/tmp/ydp/steprunner.py"]
        assert [args[args.index(flag) + 1] for flag in paths] == [
            "/tmp/ydp/bundle.zip",
            "/tmp/ydp/work",
            "/tmp/ydp/out",
        ]
        upstream = []
        for label in node["parent_labels"]:
            upstream += ["--upstream", "/tmp/ydp/upstream/" + label.lower().replace(" ", "-")]
        assert drop_flags(args, paths) == node["args"] + upstream, node["label"]
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert {k: env[k] for k in node["env"]} == node["env"]
        for name in node["parameters"]:
            assert env[name] == "{{workflow.parameters." + name + "}}"

    # And the first container, as rendered, runs (its paths moved into tmp).
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(build_bundle(result.files))
    args = drop_flags(containers[0]["args"], paths)
    step = run_step(tmp_path, "first", *args, bundle=bundle, env={"TEST_FRACTION": "0.2"})
    assert step.code == 0, step.log
    assert "wrote test.csv: 120 customers" in step.log


SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's interpreter, without papermill


@pytest.mark.skipif(
    not Path(SYSTEM_PYTHON).exists()
    or subprocess.run([SYSTEM_PYTHON, "-c", "import papermill"], capture_output=True).returncode
    == 0,
    reason=f"needs {SYSTEM_PYTHON} without papermill",
)
def test_an_interpreter_without_papermill_uses_the_tools_cached_for_it(tmp_path):
    """What a second notebook step in a bare image does (tests/integration/test_runtime_image.py
    does the first one, with pip): the cache holds the tools for this interpreter, the runner
    takes them from there. Here the cached folder links to the app's own packages."""
    cache = tmp_path / "cache"
    env = {"YDP_CACHE_DIR": str(cache), "YDP_NO_PIP_INSTALL": "1", "PYTHONPATH": ""}
    key = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import steprunner; print(steprunner.tools_dir().name)"],
        env={**os.environ, **env, "PYTHONPATH": str(RUNNER.parent)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    bundle = make_bundle(tmp_path / "b.zip", {"n.ipynb": notebook("print('from cache', 6 * 7)")})
    args = ("--kind", "notebook", "--file", "n.ipynb")

    # Nothing cached and installing refused: one clear line, exit code 2.
    refused = run_step(tmp_path, "refused", *args, bundle=bundle, env=env, python=SYSTEM_PYTHON)
    assert refused.code == 2, refused.log
    assert "install papermill and nbconvert in the runtime image" in refused.log

    # A cached folder as pip --target leaves it: the packages, and their data files in share/.
    cached = cache / "notebook-tools" / key
    cached.mkdir(parents=True)
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        (cached / entry.name).symlink_to(entry)
    (cached / "share").symlink_to(Path(sysconfig.get_paths()["data"]) / "share")
    step = run_step(tmp_path, "cached", *args, bundle=bundle, env=env, python=SYSTEM_PYTHON)
    assert step.code == 0, step.log
    assert f"using the notebook tools cached in {cache / 'notebook-tools' / key}" in step.log
    assert "from cache 42" in step.log and (step.out / "notebook.ipynb").is_file()
