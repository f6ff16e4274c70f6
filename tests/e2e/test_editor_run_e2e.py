"""Issue 12's first acceptance path in a real Chromium on the whole stack (web, worker, beat and
the embedded engine, as `make run` starts them): the demo's folder chosen for a new draft, its
four nodes dragged onto the canvas and connected, parameters, CPU, an env var, dependencies and
outputs set in the properties panel, "Save and run", and the run reaches Succeeded."""

from __future__ import annotations

import re
import shutil
import time

import pytest

from apps.experiments.models import Experiment
from apps.pipelines.models import PipelineVersion
from apps.runs.models import Run
from tests.e2e.test_editor_e2e import _center, _drag_file, _node
from tests.e2e.test_run_e2e import stack  # noqa: F401 - the fixture
from tests.integration.helpers import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
expect = pytest.importorskip("playwright.sync_api").expect
PASSWORD = "pw-editor-runner-3"


def _connect(page, source: str, target: str) -> None:
    x, y = _center(_node(page, source).locator(".port-out"))
    tx, ty = _center(_node(page, target).locator("rect.box"))
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(tx, ty, steps=6)
    page.mouse.up()


def _select(page, name: str) -> None:
    _node(page, name).locator("rect.box").click()
    expect(page.locator("#props-title")).to_have_text(name)


@pytest.mark.slow
def test_build_the_demo_in_the_editor_and_run_it(
    stack,  # noqa: F811
    page,
    shot,
    django_user_model,
    tmp_path,
) -> None:
    django_user_model.objects.create_user("edith", "edith@example.com", PASSWORD)
    Experiment.objects.create(name="Editor runs")
    folder = tmp_path / "churn"
    shutil.copytree(ROOT / "examples" / "demo", folder, ignore=shutil.ignore_patterns("*.pipeline"))

    page.goto(stack + "/accounts/login/")
    page.fill("#id_username", "edith")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/pipelines/$"))
    page.click("#new-in-editor")
    page.fill("#draft-name", "Churn from the editor")
    page.set_input_files("#draft-folder", str(folder))
    page.click("#draft-create button[type=submit]")
    page.wait_for_url(re.compile(r"/editor/[0-9a-f-]+/$"))
    expect(page.locator('.file-item[data-path="data/customers.csv"]')).to_have_count(1)

    # The pipeline's parameters (nothing selected: the pipeline's properties).
    for index, (name, ptype, default) in enumerate(
        [("TEST_FRACTION", "Float", "0.25"), ("MAX_DEPTH", "Integer", "4")], start=1
    ):
        page.get_by_role("button", name="+ Parameter").click()
        page.get_by_label(f"Name of parameter {index}").fill(name)
        page.get_by_label(f"Type of parameter {index}").select_option(ptype)
        page.get_by_label(f"Default of parameter {index}").fill(default)

    spots = {
        "prepare_data.py": (110, 70),
        "profile_data.ipynb": (330, 70),
        "train_model.ipynb": (330, 200),
        "evaluate_model.ipynb": (220, 330),
    }
    for count, (name, (x, y)) in enumerate(spots.items(), start=1):
        _drag_file(page, name, x, y)
        # Each drop makes its node before the next drag (the parameters' answers may still be
        # on their way on a busy machine).
        expect(page.locator("#canvas g.enode")).to_have_count(count, timeout=15_000)
    _connect(page, "prepare_data", "profile_data")
    _connect(page, "prepare_data", "train_model")
    _connect(page, "train_model", "evaluate_model")
    expect(page.locator("#canvas g.link")).to_have_count(3)

    _select(page, "prepare_data")
    page.get_by_label("Dependencies").fill("data/customers.csv")
    expect(page.locator(".glob-matches")).to_contain_text("data/customers.csv")
    page.get_by_label("Outputs").fill("train.csv\ntest.csv")
    page.get_by_role("button", name="+ Variable").click()
    page.get_by_label("NAME (env 1)").fill("SOURCE_CSV")
    page.get_by_label("value (env 1)").fill("data/customers.csv")
    page.get_by_label("TEST_FRACTION (Float)").check()
    _select(page, "profile_data")
    page.get_by_label("Outputs").fill("data_profile.html")
    _select(page, "train_model")
    page.get_by_label("Dependencies").fill("churn_model.py")
    page.get_by_label("Outputs").fill("model.json")
    page.get_by_label("CPU request").fill("1")
    page.get_by_label("MAX_DEPTH (Integer)").check()
    _select(page, "evaluate_model")
    page.get_by_label("Dependencies").fill("churn_model.py")
    page.get_by_label("Outputs").fill("confusion_matrix.csv\nroc.csv")
    expect(page.locator("#save-status")).to_have_text("Saved", timeout=10_000)
    expect(page.locator("#canvas g.enode.has-problems")).to_have_count(0)
    shot(page, "editor-demo-built")

    page.click("#save-run")
    page.click("#version-submit")
    page.wait_for_url(re.compile(r"/runs/new/\?version="))
    version = PipelineVersion.objects.get()
    assert version.node_count == 4
    page.select_option("#id_experiment", label="Editor runs")
    page.fill("input[name='param_MAX_DEPTH']", "5")
    page.get_by_role("button", name=re.compile("Start")).click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}/$"))
    run = Run.objects.get(pk=page.url.rstrip("/").rsplit("/", 1)[1])
    assert run.pipeline_version_id == version.pk
    assert run.parameters["MAX_DEPTH"] == "5"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.state in ("Succeeded", "Failed", "Error"):
            break
        time.sleep(1)
    assert run.state == "Succeeded", run.message
    expect(page.locator("#run-status")).to_contain_text("Succeeded", timeout=20_000)
    shot(page, "editor-demo-run-succeeded")
    assert page.js_errors == []
