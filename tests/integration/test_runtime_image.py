"""Pipelines in their images (issue 10): the demo on the container executor in the default
runtime image, an Elyra pipeline of notebook, Python and R nodes on both executors, and the
step runner in an image without papermill (localhost/ydp-python:3.11), which installs it once
into the engine's step cache. The engine is a real process over HTTP, the images real ones
built by scripts/images.sh; skipped, with the reason, where podman is absent."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile

import nbformat
import pytest

from apps.experiments.models import Experiment
from apps.pipelines.constants import DEFAULT_RUNTIME_IMAGE
from apps.pipelines.services import create_version
from apps.runs.constants import RunState, StepPhase
from apps.runs.services import create_run
from apps.runs.tasks import submit_run
from tests.integration.conftest import EngineProcess
from tests.integration.helpers import ROOT, sync_until_finished, zip_folder

PLAIN_PYTHON = "localhost/ydp-python:3.11"  # Debian's python3 alone: no pip, no papermill
HOST_NOTE = "not used: "  # the host executor's node message: the image was not used

pytestmark = [
    pytest.mark.slow,
    pytest.mark.any_database,  # images and the step cache are the engine's: PostgreSQL only
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        shutil.which("podman") is None,
        reason="podman is not installed (scripts/setup.sh installs it on Debian)",
    ),
]


@pytest.fixture(scope="module")
def images() -> None:
    """The step images, built when missing or when their recipe changed (~3 min the first
    time for the runtime image)."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "images.sh")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def container_engine(tmp_path_factory, images):
    proc = EngineProcess(
        tmp_path_factory.mktemp("runtime") / "data", extra=["--executor", "container"]
    ).start()
    yield proc
    proc.stop()


@pytest.fixture(params=["container", "host"])
def on_executor(request, settings, live_server):
    """The app pointed at an engine of each executor, the steps at the live app."""
    engine = request.getfixturevalue(
        "container_engine" if request.param == "container" else "engine"
    )
    settings.ARGO_SERVER = engine.url
    settings.ARGO_NAMESPACE = "argo"
    settings.ARGO_TIMEOUT_SECONDS = 10
    settings.YDP_PUBLIC_URL = live_server.url
    return request.param


@pytest.fixture
def in_containers(settings, container_engine, live_server):
    settings.ARGO_SERVER = container_engine.url
    settings.ARGO_NAMESPACE = "argo"
    settings.ARGO_TIMEOUT_SECONDS = 10
    settings.YDP_PUBLIC_URL = live_server.url
    return container_engine


def run_upload(name: str, data: bytes, parameters: dict | None = None):
    version = create_version(upload_name=name, data=data, pipeline_name=f"{name} pipeline")
    experiment, _ = Experiment.objects.get_or_create(name="runtime images")
    run = create_run(version=version, experiment=experiment, parameters=parameters or {})
    assert submit_run(str(run.id)) == "created"
    return sync_until_finished(run, timeout=500)


def steps_of(run) -> dict:
    return {step.display_name: step for step in run.steps.filter(node_type="Pod")}


# -- a small Elyra pipeline written here: each node writes a file the next one reads ----------


def notebook(*sources: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    return nbformat.writes(nb)


def elyra_zip(nodes: list[dict], image: str | None) -> bytes:
    """A zip of an Elyra v8 pipeline whose nodes run one after the other, and their files."""
    flow_nodes = []
    for i, spec in enumerate(nodes):
        params = {"filename": spec["file"], "outputs": spec.get("outputs", [])}
        if image:
            params["runtime_image"] = image
        op = {"ipynb": "notebook", "py": "python", "r": "r"}[spec["file"].rsplit(".", 1)[1]]
        links = [{"id": f"l{i}", "node_id_ref": f"n{i - 1}", "port_id_ref": "outPort"}] if i else []
        flow_nodes.append(
            {
                "id": f"n{i}",
                "type": "execution_node",
                "op": f"execute-{op}-node",
                "app_data": {"label": spec["label"], "component_parameters": params},
                "inputs": [{"id": "inPort", "links": links}],
                "outputs": [{"id": "outPort"}],
            }
        )
    doc = {
        "doc_type": "pipeline",
        "version": "3.0",
        "id": "doc",
        "primary_pipeline": "p",
        "pipelines": [
            {
                "id": "p",
                "nodes": flow_nodes,
                "app_data": {"version": 8, "properties": {"name": "mixed"}},
                "runtime_ref": "",
            }
        ],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mixed.pipeline", json.dumps(doc))
        for spec in nodes:
            archive.writestr(spec["file"], spec["source"])
    return buffer.getvalue()


MIXED = [
    {
        "label": "Count",
        "file": "count.ipynb",
        "source": notebook("import sys\nn = 6", "open('n.txt', 'w').write(str(n * 7))\nprint(n)"),
        "outputs": ["n.txt"],
    },
    {
        "label": "Double",
        "file": "double.py",
        "source": "n = int(open('n.txt').read())\nopen('m.txt', 'w').write(str(2 * n))\n",
        "outputs": ["m.txt"],
    },
    {
        "label": "Check in R",
        "file": "check.r",
        "source": 'm <- as.integer(readLines("m.txt"))\nstopifnot(m == 84)\ncat("R saw", m)\n',
    },
]


def test_notebook_python_and_r_nodes_on_both_executors(on_executor):
    # No runtime_image: the nodes take the app's default, the project's runtime image.
    run = run_upload(f"mixed-{on_executor}.zip", elyra_zip(MIXED, image=None))
    steps = steps_of(run)
    assert run.state == RunState.SUCCEEDED, (run.message, {k: s.log for k, s in steps.items()})
    assert set(steps) == {"count", "double", "check-in-r"}
    assert all(step.phase == StepPhase.SUCCEEDED for step in steps.values())
    assert "R saw 84" in steps["check-in-r"].log
    assert DEFAULT_RUNTIME_IMAGE in json.dumps(run.pipeline_version.manifest)
    ran_in_image = HOST_NOTE not in steps["count"].message
    assert ran_in_image == (on_executor == "container"), steps["count"].message
    # The runtime image has the notebook tools: nothing is installed on the way.
    assert "installing papermill" not in steps["count"].log


def test_demo_runs_green_on_the_container_executor(in_containers):
    run = run_upload("demo.zip", zip_folder(ROOT / "examples" / "demo"), {"MAX_DEPTH": "3"})
    steps = steps_of(run)
    assert run.state == RunState.SUCCEEDED, (run.message, {k: s.log for k, s in steps.items()})
    assert set(steps) == {"prepare-data", "profile-data", "train-model", "evaluate-model"}
    assert all(HOST_NOTE not in step.message for step in steps.values())
    metrics = {metric.name: metric.value for metric in run.metrics.all()}
    assert 0.0 <= metrics["accuracy"] <= 1.0
    # The training notebook's learning curve (log_metric): one point per depth, the last one
    # also the run's metric.
    curve = list(
        run.metric_points.filter(name="test-loss").order_by("index").values_list("index", "value")
    )
    assert [index for index, _ in curve] == [1, 2, 3]
    assert metrics["test-loss"] == curve[-1][1]


def test_an_image_without_papermill_installs_it_once_into_the_step_cache(in_containers):
    nodes = [
        {
            "label": f"Notebook {i}",
            "file": f"nb{i}.ipynb",
            "source": notebook(f"print('notebook {i} ran', 6 * 7)"),
        }
        for i in (1, 2)
    ]
    run = run_upload("plain.zip", elyra_zip(nodes, image=PLAIN_PYTHON))
    steps = steps_of(run)
    assert run.state == RunState.SUCCEEDED, (run.message, {k: s.log for k, s in steps.items()})
    first, second = steps["notebook-1"], steps["notebook-2"]
    assert "notebook 1 ran 42" in first.log and "notebook 2 ran 42" in second.log
    assert "papermill/nbconvert are not installed in this image" in first.log
    # the engine's fill step installs (its output opens the step's log), the step uses them
    fill = first.log.index("installing papermill nbconvert ipykernel with pip into /var/cache/ydp/")
    assert fill < first.log.index("using the notebook tools cached in /var/cache/ydp/"), first.log
    assert "using the notebook tools cached in /var/cache/ydp/" in second.log, second.log
    assert "installing" not in second.log
    assert all("rendered the executed notebook to notebook.html" in s.log for s in (first, second))
    took = {s: (s.finished_at - s.started_at).total_seconds() for s in (first, second)}
    assert took[second] < took[first], took
    print(
        f"notebook step with pip install: {took[first]:.1f} s, from the cache: {took[second]:.1f} s"
    )
    # Installed into the engine's cache folder, never into the image or the host's Python.
    tools = in_containers.data_dir / "cache" / "notebook-tools"
    cached = [path for path in tools.glob("cpython-311-*") if path.is_dir()]
    assert len(cached) == 1 and (cached[0] / "papermill").is_dir(), cached
