"""Issue 9 in a real Chromium: an Elyra pipeline whose node labels are 20-40 characters long
runs through the whole stack (web, worker, beat and engine as processes), and every step's log
shows on the run page while the run goes on and after it ends. Long labels make long pod
names: the app once asked the engine for a pod name the engine did not give, and the log
vanished."""

from __future__ import annotations

import json
import re
import shutil
import time

import pytest

from apps.experiments.models import Experiment
from apps.pipelines.services import create_version
from apps.runs.services import create_run
from tests.e2e import test_run_e2e
from tests.e2e.test_run_e2e import PASSWORD, node
from tests.integration.helpers import ROOT, zip_folder

# Pod names and logs are the engine's and the app's code, not the database's: PostgreSQL only.
pytestmark = [pytest.mark.e2e, pytest.mark.any_database, pytest.mark.timeout(300)]
stack = test_run_e2e.stack  # the whole app as processes, started by the launcher

LABELS = {
    "Prepare data": "Prepare the raw customer data",  # 29
    "Profile data": "Profile every column of the data set",  # 36
    "Train model": "Train the churn classifier model",  # 32
    "Evaluate model": "Evaluate the model on held out rows x",  # 37
}


def long_labelled_demo(tmp_path) -> bytes:
    folder = tmp_path / "demo"
    shutil.copytree(ROOT / "examples" / "demo", folder)
    pipeline = folder / "customer-churn.pipeline"
    doc = json.loads(pipeline.read_text())
    for raw in doc["pipelines"][0]["nodes"]:
        app = raw.get("app_data") or {}
        if app.get("label") in LABELS:
            app["label"] = LABELS[app["label"]]
            (app.get("ui_data") or {})["label"] = app["label"]
    pipeline.write_text(json.dumps(doc))
    return zip_folder(folder)


def open_log(page, key: str, label: str):
    node(page, key).click()
    panel = page.locator("#step-panel")
    panel.get_by_role("heading", name=re.compile(re.escape(label))).wait_for()
    panel.get_by_role("link", name="Logs").click()
    return panel


@pytest.mark.slow
def test_every_step_log_shows_while_running_and_after(
    stack, page, shot, django_user_model, tmp_path
):
    version = create_version(
        upload_name="long-labels.zip", data=long_labelled_demo(tmp_path), pipeline_name="Long"
    )
    run = create_run(
        version=version, experiment=Experiment.objects.create(name="Long labels"), parameters={}
    )
    django_user_model.objects.create_user("lena", "lena@example.com", PASSWORD)
    page.goto(stack + "/accounts/login/")
    page.fill("#id_username", "lena")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/pipelines/$"))
    page.goto(f"{stack}/runs/{run.id}/")

    keys = page.locator("svg [data-node]").evaluate_all(
        "nodes => nodes.map(n => [n.dataset.node, n.textContent.trim()])"
    )
    assert len(keys) == 4, keys
    by_label = {label: key for key, text in keys for label in LABELS.values() if label[:12] in text}
    assert set(by_label) == set(LABELS.values()), keys

    # While the run goes on: the first step's log, streamed, once it runs.
    first = LABELS["Prepare data"]
    deadline = time.monotonic() + 120
    while "phase-pending" in (node(page, by_label[first]).get_attribute("class") or ""):
        assert time.monotonic() < deadline, "the first step never started"
        page.wait_for_timeout(250)
    panel = open_log(page, by_label[first], first)
    panel.get_by_text(re.compile(r"\[ydp\]")).first.wait_for(timeout=60_000)
    shot(page, "e2e-long-labels-01-running-log")

    # After the end: every step's log.
    deadline = time.monotonic() + 180
    while "Succeeded" not in page.locator("#run-status").inner_text():
        assert time.monotonic() < deadline, page.locator("#run-status").inner_text()
        page.wait_for_timeout(500)
    for label, key in by_label.items():
        panel = open_log(page, key, label)
        panel.get_by_text(re.compile(r"\[ydp\]")).first.wait_for(timeout=30_000)
        assert "no longer" not in panel.inner_text(), (label, panel.inner_text()[:300])
    shot(page, "e2e-long-labels-02-after")
    assert page.js_errors == []
