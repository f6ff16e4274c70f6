"""Issue 4's acceptance in a real Chromium, with every part of the app in its own process: the
web server, a Celery worker and beat on Redis, and the embedded engine (all started by the
launcher that `make run` uses, on its default executor: in containers, the demo's nodes in the
default runtime image, when podman works). A user uploads the demo, creates an experiment,
starts a run with a non-default parameter, watches the graph go from pending to succeeded without
reloading, reads a step's log, sees the HTML report and the confusion matrix, and the metrics
in Run Output."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from apps.runs.models import Run
from tests.integration.helpers import ROOT, zip_folder
from tests.processes import app_env, clear_redis, free_port, wait_for_http

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
PASSWORD = "pw-e2e-runner-7"
IN_CONTAINERS = shutil.which("podman") is not None  # the launcher's `--executor auto`


@pytest.fixture
def stack(transactional_db, settings, tmp_path):
    """web + worker + beat + engine, each its own process, on the test database."""
    broker = settings.CELERY_BROKER_URL
    if not broker.startswith("redis://"):
        pytest.skip("needs the Redis broker: run the suite with REDIS_URL set (make test does)")
    clear_redis(settings)  # this session's keys only: others may share the Redis database
    if IN_CONTAINERS:  # the images setup builds (kept when up to date)
        subprocess.run(["bash", str(ROOT / "scripts" / "images.sh")], check=True)
    web_port, engine_port = free_port(), free_port()
    settings.ARGO_SERVER = f"http://127.0.0.1:{engine_port}"
    settings.ARGO_NAMESPACE = "argo"
    settings.YDP_PUBLIC_URL = f"http://127.0.0.1:{web_port}"
    env = app_env(settings, redis_url=broker, data_dir=tmp_path / "app")
    del env["ARGO_SERVER"]  # the launcher starts the embedded engine when none is set
    env.update(
        {
            "PORT": str(web_port),
            "YDP_ENGINE_PORT": str(engine_port),
            "YDP_ENGINE_DATA_DIR": str(tmp_path / "engine"),
            "DEBUG": "true",
        }
    )
    log = open(tmp_path / "stack.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "ydpipelines.launcher"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{web_port}/accounts/login/", timeout=60)
        wait_for_http(f"http://127.0.0.1:{engine_port}/api/v1/version", timeout=60)
        yield f"http://127.0.0.1:{web_port}"
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
        print((tmp_path / "stack.log").read_text()[-3000:])


def node(page, key: str):
    return page.locator(f'svg [data-node="{key}"]')


@pytest.mark.slow
def test_upload_run_and_watch_it_live(stack, page, shot, django_user_model, tmp_path):
    django_user_model.objects.create_user("rita", "rita@example.com", PASSWORD)
    page.goto(stack + "/accounts/login/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/pipelines/$"))

    # Upload the demo as a zip.
    archive = tmp_path / "customer-churn.zip"
    archive.write_bytes(zip_folder(ROOT / "examples" / "demo"))
    page.goto(stack + "/pipelines/upload/")
    page.fill("#id_name", "Customer churn")
    page.set_input_files("#id_file", str(archive))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r"/pipelines/\d+/versions/[0-9a-f-]+/$"))
    version_url = page.url

    # Create an experiment.
    page.goto(stack + "/experiments/new/")
    page.fill("#id_name", "Churn study")
    page.fill("#id_description", "Does a deeper tree help?")
    page.get_by_role("button", name=re.compile("Create")).click()
    page.wait_for_url(re.compile(r"/experiments/\d+/$"))

    # Start a run of the version with a non-default parameter.
    page.goto(version_url)
    page.locator(".page-actions").get_by_role("link", name="Create run").click()
    page.wait_for_url(re.compile(r"/runs/new/"))
    page.select_option("#id_experiment", label="Churn study")
    page.fill("input[name='param_MAX_DEPTH']", "6")
    shot(page, "e2e-run-01-form")
    page.get_by_role("button", name=re.compile("Start")).click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}/$"))
    run = Run.objects.get(pk=page.url.rstrip("/").rsplit("/", 1)[1])
    assert run.parameters["MAX_DEPTH"] == "6"
    assert run.experiment.name == "Churn study"

    # The whole graph is there from the start; phases change without a reload.
    keys = ["prepare-data", "profile-data", "train-model", "evaluate-model"]
    for key in keys:
        assert node(page, key).count() == 1
    page.evaluate("window.__noReload = true")
    first_classes = node(page, "evaluate-model").get_attribute("class")
    assert "phase-succeeded" not in first_classes
    shot(page, "e2e-run-02-started")
    deadline = time.monotonic() + 150
    seen_running = False
    while time.monotonic() < deadline:
        classes = [node(page, key).get_attribute("class") or "" for key in keys]
        seen_running |= any("phase-running" in c for c in classes)
        if all("phase-succeeded" in c for c in classes):
            break
        if seen_running and not getattr(page, "_mid_shot", False):
            shot(page, "e2e-run-03-running")
            page._mid_shot = True
        page.wait_for_timeout(250)
    else:
        raise AssertionError(f"graph never all green: {classes}")
    assert page.evaluate("window.__noReload") is True, "the page reloaded"
    assert "Succeeded" in page.locator("#run-status").inner_text()
    shot(page, "e2e-run-04-succeeded")

    # A step's log: open the node, Logs tab.
    node(page, "train-model").click()
    panel = page.locator("#step-panel")
    panel.get_by_role("heading", name=re.compile("Train model")).wait_for()
    panel.get_by_role("link", name="Logs").click()
    panel.get_by_text(re.compile(r"\[ydp\] running notebook")).first.wait_for()
    shot(page, "e2e-run-05-log")

    # The HTML report, sandboxed.
    node(page, "profile-data").click()
    panel.get_by_role("heading", name=re.compile("Profile data")).wait_for()
    panel.get_by_role("link", name="Artifacts").click()
    frame = panel.locator("iframe").first
    frame.wait_for()
    sandbox = frame.get_attribute("sandbox")
    assert sandbox is not None and "allow-same-origin" not in sandbox
    shot(page, "e2e-run-06-html-report")

    # The confusion matrix, drawn.
    node(page, "evaluate-model").click()
    panel.get_by_role("heading", name=re.compile("Evaluate model")).wait_for()
    panel.get_by_role("link", name="Artifacts").click()
    matrix = panel.locator('[data-chart="confusion_matrix"][data-chart-ready]')
    matrix.locator("svg").first.wait_for()
    assert "churns" in matrix.inner_text() or matrix.locator("svg text", has_text="churns").count()
    shot(page, "e2e-run-07-confusion-matrix")

    # Run output: the metrics.
    page.get_by_role("link", name=re.compile("Run output")).click()
    page.wait_for_url(re.compile(r"\?tab=output"))
    metrics_card = page.locator("section.card").first
    assert "accuracy" in metrics_card.inner_text()
    shot(page, "e2e-run-08-output", full_page=True)
    assert page.js_errors == []
    assert Path(ROOT).exists()
    # The steps ran in their image (the container executor), not on the host.
    message = run.steps.get(display_name="train-model").message
    assert ("not used: " not in message) == IN_CONTAINERS, message
