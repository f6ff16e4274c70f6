"""The CronWorkflow of a recurring run, checked against Argo's CRD schema (strict)."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta

import pytest

from apps.experiments.models import Experiment
from apps.recurring.cron import (
    RECURRING_LABEL,
    SEMAPHORE_CONFIGMAP,
    VERSION_LABEL,
    render_cron_workflow,
    should_suspend,
)
from apps.recurring.models import RecurringRun
from apps.recurring.schedules import ScheduleError
from tests.conftest import shared_path
from tests.recurring.fixtures import hello_version

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def cron_validator():
    path = shared_path("tools", "validate_argo.py")
    module_spec = importlib.util.spec_from_file_location("validate_argo", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.validator("CronWorkflow")


@pytest.fixture
def version():
    return hello_version()


def recurring(version, **fields) -> RecurringRun:
    values = {
        "name": "hello schedule",
        "experiment": Experiment.objects.get_or_create(name="cron tests")[0],
        "pipeline": version.pipeline,
        "pipeline_version": version,
        "trigger_type": "cron",
        "cron": "*/5 * * * *",
        "parameters": {"greeting": "hi", "count": "2"},
    }
    values.update(fields)
    return RecurringRun(**values)


def render(rr, version, **kwargs):
    return render_cron_workflow(rr, version, namespace="argo", now=kwargs.pop("now", NOW), **kwargs)


def assert_valid(validator, manifest):
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.path))
    assert not errors, [f"{'/'.join(map(str, e.path))}: {e.message[:200]}" for e in errors]


def test_max_one_is_forbid_without_semaphore(cron_validator, version):
    rr = recurring(version, max_concurrency=1)
    manifest = render(rr, version)
    assert_valid(cron_validator, manifest)
    spec = manifest["spec"]
    assert manifest["kind"] == "CronWorkflow" and "schedule" not in spec
    assert spec["schedules"] == ["*/5 * * * *"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["timezone"] == "UTC"
    assert spec["suspend"] is False
    assert "synchronization" not in spec["workflowSpec"]
    labels = spec["workflowMetadata"]["labels"]
    assert labels[VERSION_LABEL] == str(version.pk)
    assert labels[RECURRING_LABEL] == str(rr.pk)
    params = {p["name"]: p["value"] for p in spec["workflowSpec"]["arguments"]["parameters"]}
    assert params == {"greeting": "hi", "count": "2"}
    assert len(manifest["metadata"]["name"]) <= 52


def test_max_n_is_allow_with_a_semaphore_of_its_own(cron_validator, version):
    rr = recurring(version, max_concurrency=4)
    manifest = render(rr, version)
    assert_valid(cron_validator, manifest)
    spec = manifest["spec"]
    assert spec["concurrencyPolicy"] == "Allow"
    semaphores = spec["workflowSpec"]["synchronization"]["semaphores"]
    assert semaphores == [
        {"configMapKeyRef": {"name": SEMAPHORE_CONFIGMAP, "key": manifest["metadata"]["name"]}}
    ]
    assert "semaphore" not in spec["workflowSpec"]["synchronization"]  # the v3 singular form


def test_disabled_is_suspended(cron_validator, version):
    manifest = render(recurring(version, enabled=False), version)
    assert_valid(cron_validator, manifest)
    assert manifest["spec"]["suspend"] is True


def test_start_and_end_suspend_outside_the_window(cron_validator, version):
    later = recurring(version, start_at=NOW + timedelta(days=1), end_at=NOW + timedelta(days=2))
    manifest = render(later, version)
    assert_valid(cron_validator, manifest)
    assert manifest["spec"]["suspend"] is True
    assert (
        render(later, version, now=NOW + timedelta(days=1, seconds=-5))["spec"]["suspend"] is False
    )
    assert render(later, version, now=NOW + timedelta(days=2))["spec"]["suspend"] is True
    assert should_suspend(later, NOW + timedelta(hours=36)) is False


def test_catchup_sets_a_long_starting_deadline_and_history_limits(cron_validator, version):
    off = render(recurring(version, catchup=False), version)["spec"]
    on = render(recurring(version, catchup=True), version)["spec"]
    assert off["startingDeadlineSeconds"] < 300 < on["startingDeadlineSeconds"]
    assert off["successfulJobsHistoryLimit"] >= 1 and off["failedJobsHistoryLimit"] >= 1


def test_frequency_of_90_minutes_is_two_schedules(cron_validator, version):
    rr = recurring(
        version, trigger_type="periodic", cron="", interval_seconds=90 * 60, timezone="Europe/Paris"
    )
    manifest = render(rr, version)
    assert_valid(cron_validator, manifest)
    assert manifest["spec"]["schedules"] == ["0 */3 * * *", "30 1-22/3 * * *"]
    assert manifest["spec"]["timezone"] == "Europe/Paris"


def test_elyra_version_renders_and_validates(cron_validator):
    from apps.pipelines.services import create_version
    from tests.integration.helpers import ROOT, zip_folder

    demo = create_version(
        upload_name="demo.zip", data=zip_folder(ROOT / "examples" / "demo"), pipeline_name="demo"
    )
    manifest = render(recurring(demo, parameters={}, max_concurrency=3), demo)
    assert_valid(cron_validator, manifest)
    assert manifest["spec"]["workflowSpec"]["templates"]


def test_bad_trigger_and_unknown_parameter_are_refused(version):
    with pytest.raises(ScheduleError, match="minute field"):
        render(recurring(version, cron="61 * * * *"), version)
    with pytest.raises(ValueError, match="unknown parameter"):
        render(recurring(version, parameters={"nope": "1"}), version)


def test_a_real_argo_server_outside_the_cluster_refuses_max_above_one(settings):
    """A server without the engine's ConfigMap endpoint (a real Argo Server answers 404 there),
    faked because the engine has the endpoint: the app says what to do instead."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from apps.orchestration.argo import ArgoClient, ArgoConfig, ArgoError
    from apps.recurring.cron import set_semaphore_limit

    class NotFound(BaseHTTPRequestHandler):
        def do_PUT(self):
            body = json.dumps({"code": 5, "message": "Not Found"}).encode()
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.ARGO_EMBEDDED = False
        client = ArgoClient(ArgoConfig(server=f"http://127.0.0.1:{server.server_port}"))
        with pytest.raises(ArgoError, match=r"key rr-x=4 in ConfigMap ydpipelines-semaphores"):
            set_semaphore_limit(client, "argo", "rr-x", 4)
    finally:
        server.shutdown()
