"""The REST API through the Django test client: authentication, roles, error shapes, the
operations against the services, and fixed query counts for the lists."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.api.models import ApiToken
from apps.api.tokens import check_token, issue_token, revoke_token
from apps.experiments.models import Experiment
from apps.pipelines.services import create_version
from apps.runs.constants import RunState
from apps.runs.models import Artifact, Metric, MetricPoint, Run, Step
from apps.runs.services import create_run
from tests.api.conftest import WORKFLOW
from tests.conftest import shared_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def version():
    return create_version(upload_name="hello.yaml", data=WORKFLOW, pipeline_name="hello")


@pytest.fixture
def experiment():
    return Experiment.objects.create(name="nightly")


def _run(version, experiment, **changes):
    run = create_run(version=version, experiment=experiment, parameters={"greeting": "hi"})
    if changes:
        Run.objects.filter(pk=run.pk).update(**changes)
        run.refresh_from_db()
    return run


def _error(response, status: int, field: str | None = None) -> str:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"message", "field"} and body["message"]
    if field is not None:
        assert body["field"] == field, body
    return body["message"]


# -- tokens and authentication ----------------------------------------------------------------


def test_a_token_is_stored_hashed_and_shown_once(user):
    token, text = issue_token(user, name="CI", role="write")
    assert text.startswith(f"ydp_{token.prefix}_") and len(text) == 4 + 8 + 1 + 43
    row = ApiToken.objects.get(pk=token.pk)
    assert text not in (row.secret_hash, row.prefix) and len(row.secret_hash) == 64
    assert check_token(text) == token
    assert check_token(text[:-1] + ("A" if text[-1] != "A" else "B")) is None
    revoke_token(token)
    assert check_token(text) is None


def test_an_expired_token_and_an_inactive_user_are_refused(user):
    token, text = issue_token(user, name="old")
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert check_token(text) is None
    _, other = issue_token(user, name="fresh")
    user.is_active = False
    user.save()
    assert check_token(other) is None


def test_use_is_recorded_at_most_once_a_minute(user):
    token, text = issue_token(user, name="CI")
    assert token.last_used_at is None
    check_token(text)
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    check_token(text)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first


def test_no_credentials_is_401_in_json_not_a_login_redirect(client):
    message = _error(client.get("/api/v1/runs"), 401, "Authorization")
    assert "Bearer" in message


def test_a_bad_token_is_401_and_repeated_failures_lock_the_address(client, settings, write_token):
    settings.YDP_LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        response = client.get("/api/v1/runs", HTTP_AUTHORIZATION="Bearer ydp_00000000_" + "x" * 43)
        _error(response, 401, "Authorization")
    # Locked now: even the right token waits, and says for how long.
    response = client.get("/api/v1/runs", HTTP_AUTHORIZATION=f"Bearer {write_token}")
    assert "Too many failed token checks" in _error(response, 429, "Authorization")
    # The login form keeps its own count.
    from ydpipelines.login_limits import locked_for

    assert locked_for(response.wsgi_request, None) == 0


def test_a_read_token_reads_but_cannot_write(reader, version, experiment):
    assert reader.get("/api/v1/pipelines").status_code == 200
    body = {"version": "hello", "experiment": "nightly"}
    response = reader.post("/api/v1/runs", body, content_type="application/json")
    assert "read-only" in _error(response, 403, "Authorization")
    assert not Run.objects.exists()
    run = _run(version, experiment, state=RunState.FAILED)
    for action in ("terminate", "retry", "archive", "restore", "clone"):
        response = reader.post(f"/api/v1/runs/{run.pk}/{action}", {}, "application/json")
        _error(response, 403)
    assert Run.objects.count() == 1 and Run.objects.get().archived_at is None


def test_the_browser_session_works_with_csrf(client, user, experiment):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.get("/api/v1/experiments").status_code == 200
    response = browser.post("/api/v1/experiments", {"name": "x"}, content_type="application/json")
    assert response.status_code == 403 and "CSRF" in response.json()["message"]
    browser.get("/settings/tokens/")  # sets the CSRF cookie
    csrf = browser.cookies["csrftoken"].value
    response = browser.post(
        "/api/v1/experiments", {"name": "x"}, content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )  # fmt: skip
    assert response.status_code == 201, response.content


# -- pipelines ----------------------------------------------------------------------------------


def test_upload_creates_a_pipeline_then_versions(writer):
    response = writer.post(
        "/api/v1/pipelines", {"file": ContentFile(WORKFLOW, name="hello.yaml"), "name": "greet"}
    )
    assert response.status_code == 201, response.content
    first = response.json()
    assert first["pipeline"]["name"] == "greet" and first["name"] == "v1"
    assert first["parameters"][0]["name"] == "greeting"
    pipeline_id = first["pipeline"]["id"]
    response = writer.post(
        f"/api/v1/pipelines/{pipeline_id}/versions",
        {"file": ContentFile(WORKFLOW, name="hello.yaml")},
    )
    assert response.status_code == 201 and response.json()["name"] == "v2"
    versions = writer.get(f"/api/v1/pipelines/{pipeline_id}/versions").json()
    assert [v["name"] for v in versions] == ["v2", "v1"]
    manifest = writer.get(f"/api/v1/versions/{first['id']}/manifest").json()
    assert manifest["kind"] == "Workflow"
    text = writer.get(f"/api/v1/versions/{first['id']}/manifest?format=yaml")
    assert text["Content-Type"] == "application/yaml" and b"kind: Workflow" in text.content
    assert writer.get(f"/api/v1/versions/{first['id']}/spec").status_code == 200
    assert writer.get("/api/v1/pipelines?name=greet").json()["count"] == 1
    # Names already taken: 409, naming the field.
    again = {"file": ContentFile(WORKFLOW, name="hello.yaml"), "name": "greet"}
    _error(writer.post("/api/v1/pipelines", again), 409, "name")
    again = {"file": ContentFile(WORKFLOW, name="hello.yaml"), "version_name": "v1"}
    _error(writer.post(f"/api/v1/pipelines/{pipeline_id}/versions", again), 409, "version_name")


def test_a_refused_upload_says_why_and_stores_nothing(writer):
    response = writer.post(
        "/api/v1/pipelines", {"file": ContentFile(b"kind: [", name="bad.yaml"), "name": "bad"}
    )
    _error(response, 400, "file")
    response = writer.post("/api/v1/pipelines", {"name": "nothing"})
    _error(response, 400, "file")
    from apps.pipelines.models import Pipeline

    assert not Pipeline.objects.exists()


def test_a_zip_lacking_files_is_refused_naming_them_unless_allow_missing(writer):
    """As the upload page: refused naming the file; `allow_missing` stores it with a warning."""
    import io
    import zipfile

    from apps.pipelines.models import PipelineVersion

    folder = shared_path(
        "corpora", "elyra-examples", "pipelines", "run-generic-pipelines-on-kubeflow-pipelines"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name != "load_data.ipynb":
                archive.write(path, path.relative_to(folder).as_posix())
    data = buffer.getvalue()
    response = writer.post("/api/v1/pipelines", {"file": ContentFile(data, name="g.zip")})
    _error(response, 400, "file")
    assert "load_data.ipynb" in response.json()["message"]
    assert not PipelineVersion.objects.exists()
    response = writer.post(
        "/api/v1/pipelines",
        {"file": ContentFile(data, name="g.zip"), "name": "g", "allow_missing": "true"},
    )
    assert response.status_code == 201, response.content
    version = PipelineVersion.objects.get()
    assert version.spec["metadata"]["missing_files"] == ["load_data.ipynb"]


def test_unknown_objects_are_404(writer):
    _error(writer.get("/api/v1/pipelines/999"), 404)
    _error(writer.get(f"/api/v1/versions/{uuid.uuid4()}"), 404)
    _error(writer.get(f"/api/v1/runs/{uuid.uuid4()}"), 404)
    _error(writer.get("/api/v1/experiments/999"), 404)
    _error(writer.get(f"/api/v1/recurring-runs/{uuid.uuid4()}"), 404)


def test_a_malformed_path_or_query_is_400_naming_the_field(writer):
    _error(writer.get("/api/v1/runs/not-a-uuid"), 400, "run_id")
    _error(writer.get("/api/v1/runs?size=0"), 400, "size")
    _error(writer.get("/api/v1/runs?sort=colour"), 400, "sort")
    _error(writer.get("/api/v1/runs?state=Sleeping"), 400, "state")
    _error(writer.get("/api/v1/runs?m=accuracy:near:1"), 400, "m")
    _error(writer.get("/api/v1/runs?after=garbage"), 400, "after")


# -- experiments --------------------------------------------------------------------------------


def test_experiments_create_list_and_a_duplicate_is_409(writer):
    response = writer.post("/api/v1/experiments", {"name": " churn "}, "application/json")
    assert response.status_code == 201 and response.json()["name"] == "churn"
    _error(writer.post("/api/v1/experiments", {"name": "Churn"}, "application/json"), 409, "name")
    _error(writer.post("/api/v1/experiments", {"name": "  "}, "application/json"), 400, "name")
    _error(writer.post("/api/v1/experiments", {}, "application/json"), 400, "name")
    assert [e["name"] for e in writer.get("/api/v1/experiments").json()] == ["churn"]
    assert writer.get("/api/v1/experiments?name=CHURN").json()[0]["name"] == "churn"


# -- runs ---------------------------------------------------------------------------------------


def test_create_a_run_by_pipeline_name_with_typed_parameters(writer, version, experiment):
    body = {"version": "hello:v1", "experiment": "nightly", "parameters": {"greeting": "hey"}}
    response = writer.post("/api/v1/runs", body, "application/json")
    assert response.status_code == 201, response.content
    run = response.json()
    assert run["state"] == "Pending" and run["parameters"] == {"greeting": "hey"}
    assert run["pipeline"]["name"] == "hello" and run["experiment"]["name"] == "nightly"
    assert run["url"].endswith(f"/runs/{run['id']}/")
    stored = Run.objects.get(pk=run["id"])
    assert stored.created_by.username == "alice"


def test_run_creation_errors_name_their_field(writer, version, experiment):
    body = {"version": "nope", "experiment": "nightly"}
    _error(writer.post("/api/v1/runs", body, "application/json"), 404, "version")
    body = {"version": "hello", "experiment": "nope"}
    _error(writer.post("/api/v1/runs", body, "application/json"), 404, "experiment")
    body = {"version": "hello", "experiment": "nightly", "parameters": {"other": "1"}}
    response = writer.post("/api/v1/runs", body, "application/json")
    assert response.status_code == 400 and response.json()["field"]
    Experiment.objects.filter(pk=experiment.pk).update(archived_at=timezone.now())
    body = {"version": "hello", "experiment": "nightly"}
    assert "archived" in _error(writer.post("/api/v1/runs", body, "application/json"), 400)
    assert not Run.objects.exists()


def test_archive_restore_and_their_conflicts(writer, version, experiment):
    active = _run(version, experiment)
    message = _error(writer.post(f"/api/v1/runs/{active.pk}/archive"), 409)
    assert "terminate" in message
    done = _run(version, experiment, state=RunState.SUCCEEDED)
    response = writer.post(f"/api/v1/runs/{done.pk}/archive")
    assert response.status_code == 200 and response.json()["run"]["archived_at"]
    _error(writer.post(f"/api/v1/runs/{done.pk}/archive"), 409)
    assert writer.get("/api/v1/runs?archived=true").json()["items"][0]["id"] == str(done.pk)
    response = writer.post(f"/api/v1/runs/{done.pk}/restore")
    assert response.status_code == 200 and response.json()["run"]["archived_at"] is None


def test_terminate_before_submit_and_a_finished_run_is_409(writer, version, experiment):
    run = _run(version, experiment)
    response = writer.post(f"/api/v1/runs/{run.pk}/terminate")
    assert response.status_code == 200, response.content
    assert response.json()["run"]["state"] == "Terminated"
    assert "nothing to terminate" in _error(writer.post(f"/api/v1/runs/{run.pk}/terminate"), 409)
    assert "Only a failed run" in _error(writer.post(f"/api/v1/runs/{run.pk}/retry"), 409)


def test_retry_of_a_run_that_never_reached_argo_submits_it_again(writer, version, experiment):
    run = _run(version, experiment, state=RunState.ERROR)
    response = writer.post(f"/api/v1/runs/{run.pk}/retry")
    assert response.status_code == 200, response.content
    assert response.json()["run"]["state"] == "Pending"


def test_clone_keeps_the_parameters_less_those_given(writer, version, experiment):
    source = _run(version, experiment, state=RunState.SUCCEEDED)
    response = writer.post(
        f"/api/v1/runs/{source.pk}/clone", {"parameters": {"greeting": "again"}}, "application/json"
    )
    assert response.status_code == 201, response.content
    clone = response.json()
    assert clone["cloned_from_id"] == str(source.pk) and clone["name"] == f"Clone of {source.name}"
    assert clone["parameters"] == {"greeting": "again"}


def test_steps_logs_artifacts_and_metrics(writer, version, experiment, tmp_path):
    run = _run(version, experiment, state=RunState.SUCCEEDED)
    step = Step.objects.create(
        run=run, node_id="n1", name="wf.main", display_name="main", node_type="Pod",
        phase="Succeeded", pod_name="p1", log="line 1\nline 2", log_fetched=True,
    )  # fmt: skip
    Metric.objects.create(run=run, step=step, name="accuracy", value=0.9)
    artifact = Artifact(run=run, step=step, name="report", kind="file", media_type="text/plain")
    artifact.file.save("report.txt", ContentFile(b"<script>x</script>"), save=False)
    artifact.size = 18
    artifact.save()
    steps = writer.get(f"/api/v1/runs/{run.pk}/steps").json()
    assert [s["display_name"] for s in steps] == ["main"]
    log = writer.get(f"/api/v1/runs/{run.pk}/steps/{step.pk}/log")
    assert log.status_code == 200 and log.content == b"line 1\nline 2\n"
    _error(writer.get(f"/api/v1/runs/{run.pk}/steps/99999/log"), 404)
    metrics = writer.get(f"/api/v1/runs/{run.pk}/metrics").json()
    assert metrics == [{"name": "accuracy", "value": 0.9, "format": "RAW", "step": "main"}]
    for index, value in ((0, 0.5), (2, 0.9), (1, 0.7)):
        MetricPoint.objects.create(run=run, step=step, name="accuracy", index=index, value=value)
    MetricPoint.objects.create(run=run, step=step, name="loss", index=0, value=1.5)
    history = writer.get(f"/api/v1/runs/{run.pk}/metrics/history").json()
    assert [h["name"] for h in history] == ["accuracy", "loss"]
    assert history[0]["points"] == [
        {"step": 0, "value": 0.5, "time": None},
        {"step": 1, "value": 0.7, "time": None},
        {"step": 2, "value": 0.9, "time": None},
    ]
    only = writer.get(f"/api/v1/runs/{run.pk}/metrics/history?name=loss").json()
    assert only == [{"name": "loss", "points": [{"step": 0, "value": 1.5, "time": None}]}]
    _error(writer.get(f"/api/v1/runs/{uuid.uuid4()}/metrics/history"), 404)
    listed = writer.get(f"/api/v1/runs/{run.pk}/artifacts").json()
    assert listed[0]["name"] == "report" and listed[0]["has_file"]
    download = writer.get(f"/api/v1/runs/{run.pk}/artifacts/{artifact.pk}/download")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"<script>x</script>"
    assert "attachment" in download["Content-Disposition"]
    assert "sandbox" in download["Content-Security-Policy"]


# -- the runs list ------------------------------------------------------------------------------


def test_the_runs_list_filters_sorts_and_pages_like_the_page(writer, version, experiment):
    runs = []
    for i, value in enumerate([0.5, 0.9, 0.7]):
        run = _run(version, experiment, state=RunState.SUCCEEDED, name=f"run {i}")
        Metric.objects.create(run=run, name="accuracy", value=value)
        runs.append(run)
    _run(version, experiment, name="still going")
    page = writer.get("/api/v1/runs?m=accuracy:gt:0.6&sort=-m:accuracy&metrics=accuracy").json()
    assert [r["name"] for r in page["items"]] == ["run 1", "run 2"]
    assert page["items"][0]["metrics"] == {"accuracy": 0.9}
    assert writer.get("/api/v1/runs?state=Pending").json()["items"][0]["name"] == "still going"
    first = writer.get("/api/v1/runs?size=2&sort=name").json()
    assert [r["name"] for r in first["items"]] == ["run 0", "run 1"] and first["next_cursor"]
    second = writer.get(f"/api/v1/runs?size=2&sort=name&after={first['next_cursor']}").json()
    assert [r["name"] for r in second["items"]] == ["run 2", "still going"]
    assert second["next_cursor"] is None and second["previous_cursor"]


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries)


def test_list_endpoints_cost_a_fixed_number_of_queries(writer, version, experiment):
    def make(n):
        for i in range(n):
            run = _run(version, experiment, state=RunState.SUCCEEDED, name=f"r{i}")
            Metric.objects.create(run=run, name="accuracy", value=i / 10)

    make(2)
    urls = {
        # token, the caller's projects and roles, filter choices, page, metric values
        "/api/v1/runs?metrics=accuracy&m=accuracy:gte:0": 5,
        # token, projects and roles, pipelines
        "/api/v1/pipelines": 3,
        "/api/v1/experiments": 3,
        "/api/v1/recurring-runs": 3,
    }
    before = {url: _count(writer, url) for url in urls}
    make(6)
    after = {url: _count(writer, url) for url in urls}
    assert before == after == urls


def test_the_openapi_document_is_valid_openapi_3(client):
    from openapi_spec_validator import validate

    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.content)
    validate(document)
    assert document["openapi"].startswith("3.")
    assert "/api/v1/runs/{run_id}/terminate" in document["paths"]


def test_the_docs_page_needs_a_login_and_uses_no_cdn(auth_client):
    from django.test import Client

    assert Client().get("/api/v1/docs").status_code == 302
    page = auth_client.get("/api/v1/docs")
    assert page.status_code == 200
    assert b"cdn." not in page.content and b"/static/ninja/swagger-ui-bundle" in page.content


def test_a_runs_lists_of_steps_artifacts_and_metrics_cost_fixed_queries(
    writer, version, experiment
):
    run = _run(version, experiment, state=RunState.SUCCEEDED)

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            step = Step.objects.create(
                run=run, node_id=f"n{i}", name=f"wf.s{i}", display_name=f"s{i}", node_type="Pod"
            )
            Metric.objects.create(run=run, step=step, name=f"m{i}", value=i)
            MetricPoint.objects.create(run=run, step=step, name=f"m{i}", index=0, value=i)
            Artifact.objects.create(run=run, step=step, name=f"a{i}", kind="file")

    add(1, 0)
    urls = {  # token, the caller's projects and roles, run, rows
        f"/api/v1/runs/{run.pk}/steps": 4,
        f"/api/v1/runs/{run.pk}/artifacts": 4,
        f"/api/v1/runs/{run.pk}/metrics": 4,
        f"/api/v1/runs/{run.pk}/metrics/history": 4,
        f"/api/v1/runs/{run.pk}": 3,
    }
    before = {url: _count(writer, url) for url in urls}
    add(5, 1)
    after = {url: _count(writer, url) for url in urls}
    assert before == after == urls
    assert len(writer.get(f"/api/v1/runs/{run.pk}/steps").json()) == 6


def test_outputs_pending_holds_from_a_steps_end_until_its_outputs_are_copied(
    writer, version, experiment
):
    """What `ydp run --wait` waits for: the run's detail and its list row say outputs_pending
    from the sync's write of a step's end until the copy stores its log, artifacts and metrics
    (or gives up), and the metrics are readable once it is false."""
    from apps.runs.outputs import _store
    from apps.runs.visualizations import parse_metrics

    run = _run(version, experiment, state=RunState.RUNNING, started_at=timezone.now())
    step = Step.objects.create(
        run=run, node_id="n1", name="wf.train", display_name="train", node_type="Pod",
        phase="Running", started_at=timezone.now(),
    )  # fmt: skip
    Step.objects.create(  # a DAG node ends too, but has no outputs of its own to copy
        run=run, node_id="n0", name="wf", display_name="wf", node_type="DAG", phase="Succeeded"
    )

    def pending() -> tuple[bool, bool]:
        detail = writer.get(f"/api/v1/runs/{run.pk}").json()
        rows = writer.get("/api/v1/runs").json()["items"]
        return detail["outputs_pending"], next(r for r in rows if r["id"] == str(run.pk))[
            "outputs_pending"
        ]

    assert pending() == (False, False)  # running: nothing to copy yet
    # The sync writes the end (run and step in one transaction); the copy is queued after.
    now = timezone.now()
    Step.objects.filter(pk=step.pk).update(phase="Succeeded", finished_at=now)
    Run.objects.filter(pk=run.pk).update(state=RunState.SUCCEEDED, finished_at=now)
    assert pending() == (True, True)
    assert writer.get(f"/api/v1/runs/{run.pk}/metrics").json() == []
    # Long after the end, still true: the API has no grace (the pages' polling does).
    Run.objects.filter(pk=run.pk).update(finished_at=now - timedelta(hours=1))
    assert pending() == (True, True)

    _store(Step.objects.get(pk=step.pk), "done", [], parse_metrics(METRICS_JSON), [])
    assert pending() == (False, False)
    metrics = writer.get(f"/api/v1/runs/{run.pk}/metrics").json()
    assert [(m["name"], m["value"]) for m in metrics] == [("accuracy", 0.9)]

    # A step whose copy failed for good: nothing more will come, so nothing is pending.
    Step.objects.create(
        run=run, node_id="n2", name="wf.eval", display_name="eval", node_type="Pod",
        phase="Failed", finished_at=now,
    )  # fmt: skip
    assert pending() == (True, True)
    Step.objects.filter(node_id="n2").update(outputs_error="The step's outputs could not be copied")
    assert pending() == (False, False)


METRICS_JSON = b'{"metrics": [{"name": "accuracy", "numberValue": 0.9}]}'


def test_the_admin_lists_tokens_without_their_secret(client, django_user_model, user):
    admin = django_user_model.objects.create_superuser("root", password="pw-root-123")
    token, text = issue_token(user, name="CI")
    client.force_login(admin)
    page = client.get("/admin/api/apitoken/").content.decode()
    assert "CI" in page and token.prefix in page and text not in page
    assert client.get("/admin/api/apitoken/add/").status_code == 403
