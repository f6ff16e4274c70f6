"""The run form's Run type: One-off starts a run, Recurring creates a recurring run through
apps.recurring's service (the same result as the recurring-run form); only the chosen type's
fields are checked. Queries pinned for the page and for a refused Recurring submit."""

from __future__ import annotations

import re
import time

import pytest
from django.urls import reverse

from apps.experiments.models import Experiment
from apps.orchestration.argo import get_client
from apps.recurring.models import RecurringRun
from apps.recurring.services import SETTINGS_FIELDS
from apps.runs.models import Run
from tests.experiments.builders import make_experiment, make_version
from tests.recurring.fixtures import hello_version

pytestmark = pytest.mark.django_db
CREATE = reverse("runs:create")
# The page with Recurring chosen costs what the One-off page does: the schedule reads nothing.
# (Each counts the caller's projects and roles: apps.projects.scope.)
QUERIES_PAGE = 10
# A refused Recurring submit: the One-off checks (pipeline, version, experiment) and the page.
QUERIES_REFUSED = 13


def _post(version, run_type: str = "recurring", **extra) -> dict:
    data = {
        "pipeline": version.pipeline_id,
        "version": str(version.pk),
        "name": "nightly churn",
        "description": "every night",
        "run_type": run_type,
        "param_epochs": "12",
        "param_lr": "",
        "param_shuffle": "false",
        "param_label": "",
        "trigger_type": "cron",
        "cron": "0 3 * * *",
        "every": "1",
        "every_unit": "hours",
        "timezone": "UTC",
        "start_at": "",
        "end_at": "",
        "max_concurrency": "1",
        "enabled": "on",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def _schedule(response):
    """The Recurring type's own form (apps.recurring's ScheduleForm) on the page."""
    return next(
        s["form"] for s in response.context["run_type_sections"] if s["type"].value == "recurring"
    )


def test_the_form_offers_both_types_and_the_schedule_fields(auth_client):
    version = make_version()
    body = auth_client.get(CREATE, {"version": version.pk}).content.decode()
    assert 'name="run_type" value="one_off"' in body and 'value="recurring"' in body
    assert 'data-run-type-section="recurring"' in body and "js/run_form.js" in body
    for name in ("trigger_type", "cron", "every", "start_at", "end_at", "max_concurrency"):
        assert f'name="{name}"' in body, name
    assert 'name="catchup"' in body
    one_off = auth_client.get(CREATE, {"version": version.pk}).context["form"]
    assert one_off["run_type"].value() == "one_off"


def test_recurring_chosen_by_the_link(auth_client):
    """The version page's "Schedule" and the run form's no-JS refresh keep Recurring chosen."""
    version = make_version()
    page = auth_client.get(
        reverse("pipelines:version", args=[version.pipeline_id, version.pk])
    ).content.decode()
    assert f"{CREATE}?version={version.pk}&amp;run_type=recurring" in page
    response = auth_client.get(CREATE, {"version": version.pk, "run_type": "recurring"})
    assert response.context["form"]["run_type"].value() == "recurring"
    assert "Create recurring run</span>" in response.content.decode()
    refresh = auth_client.post(CREATE, _post(version, refresh="1", cron="*/5 * * * *"))
    assert refresh.context["form"]["run_type"].value() == "recurring"
    assert _schedule(refresh)["cron"].value() == "*/5 * * * *"
    assert RecurringRun.objects.count() == 0 and Run.objects.count() == 0


def test_entry_points_lead_here_with_what_they_know(auth_client):
    """The runs list's "Create run"; an experiment's link carries it (?experiment=), and the
    Run type can then be switched without losing it."""
    version = make_version()
    experiment = make_experiment()
    runs_list = auth_client.get(reverse("runs:list")).content.decode()
    assert f'href="{CREATE}"' in runs_list
    query = {"version": version.pk, "experiment": experiment.pk, "run_type": "recurring"}
    form = auth_client.get(CREATE, query).context["form"]
    assert (form["experiment"].value(), form["run_type"].value()) == (experiment.pk, "recurring")
    assert form["version"].value() == version.pk


def test_one_off_ignores_the_schedule_fields(auth_client, django_capture_on_commit_callbacks):
    version = make_version()
    experiment = make_experiment()
    bad_schedule = {"cron": "nonsense", "max_concurrency": "0", "end_at": "2020-01-01T00:00"}
    with django_capture_on_commit_callbacks():
        response = auth_client.post(
            CREATE, _post(version, "one_off", experiment=experiment.pk, **bad_schedule)
        )
    run = Run.objects.get()
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    assert RecurringRun.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"cron": "61 * * * *"}, "cron", "61"),
        ({"cron": ""}, "cron", "cron"),
        ({"trigger_type": "periodic", "every": ""}, "every", "Say how often"),
        (
            {"start_at": "2030-01-02T00:00", "end_at": "2030-01-01T00:00"},
            "end_at",
            "The end must be after the start.",
        ),
        ({"max_concurrency": "0"}, "max_concurrency", "between 1 and 10"),
        ({"max_concurrency": ""}, "max_concurrency", "required"),
    ],
)
def test_recurring_refusals_store_nothing(auth_client, overrides, field, message):
    version = make_version()
    response = auth_client.post(CREATE, _post(version, new_experiment="never", **overrides))
    assert response.status_code == 200
    errors = _schedule(response).errors
    assert any(message in error for error in errors[field]), errors
    body = response.content.decode()
    assert "The recurring run was not created" in body and "nothing was stored" in body
    assert RecurringRun.objects.count() == 0 and Run.objects.count() == 0
    assert not Experiment.objects.filter(name="never").exists()


def test_recurring_missing_fields_of_both_parts_show_together(auth_client):
    version = make_version()
    response = auth_client.post(CREATE, _post(version, name="", cron=""))
    assert "name" in response.context["form"].errors
    assert "experiment" in response.context["form"].errors
    assert "cron" in _schedule(response).errors
    assert RecurringRun.objects.count() == 0


def test_recurring_bad_parameter_lands_on_its_field(auth_client):
    version = make_version()
    experiment = make_experiment()
    response = auth_client.post(CREATE, _post(version, experiment=experiment.pk, param_epochs="x"))
    assert "param_epochs" in response.context["form"].errors
    assert RecurringRun.objects.count() == 0


def test_page_queries_are_pinned(auth_client, django_assert_num_queries):
    version = make_version()
    make_experiment()
    auth_client.get(CREATE, {"version": version.pk})  # warm the session
    with django_assert_num_queries(QUERIES_PAGE):
        auth_client.get(CREATE, {"version": version.pk, "run_type": "recurring"})
    with django_assert_num_queries(QUERIES_REFUSED):
        auth_client.post(CREATE, _post(version, cron="nonsense", new_experiment="x"))


@pytest.mark.django_db(transaction=True)
def test_recurring_from_the_run_form_equals_the_recurring_form(argo, auth_client):
    version = hello_version(pipeline_name=f"hello {time.monotonic_ns()}")
    experiment = make_experiment(f"nightly {time.monotonic_ns()}")
    data = {
        "pipeline": version.pipeline_id,
        "version": str(version.pk),
        "name": "from the run form",
        "description": "d",
        "experiment": experiment.pk,
        "param_greeting": "salut",
        "param_count": "",
        "trigger_type": "periodic",
        "every": "2",
        "every_unit": "hours",
        "cron": "",
        "timezone": "Europe/Paris",
        "start_at": "2030-06-01T09:00",
        "end_at": "2030-07-01T09:00",
        "max_concurrency": "2",
        "catchup": "on",
        "enabled": "on",
    }
    response = auth_client.post(CREATE, {**data, "run_type": "recurring"})
    assert response.status_code == 302, response.content.decode()[:3000]
    mine = RecurringRun.objects.get()
    assert response["Location"] == reverse("recurring:detail", args=[mine.pk])
    response = auth_client.post(reverse("recurring:create"), {**data, "name": "from its form"})
    assert response.status_code == 302, response.content.decode()[:3000]
    theirs = RecurringRun.objects.exclude(pk=mine.pk).get()
    for name in SETTINGS_FIELDS:
        if name != "name":
            assert getattr(mine, name) == getattr(theirs, name), name
    assert mine.parameters == {"greeting": "salut", "count": "3"}
    assert (mine.interval_seconds, mine.max_concurrency, mine.catchup) == (7200, 2, True)
    client = get_client()
    specs = [client.get_cron_workflow(r.cron_workflow_name)["spec"] for r in (mine, theirs)]
    for spec in specs:
        spec.pop("workflowMetadata", None)
        spec["workflowSpec"].pop("metadata", None)
    assert specs[0]["schedules"] == specs[1]["schedules"]
    assert specs[0]["timezone"] == specs[1]["timezone"] == "Europe/Paris"
    assert Run.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_argo_away_shows_the_error_and_stores_nothing(settings, auth_client):
    settings.ARGO_SERVER = "http://127.0.0.1:9"
    version = hello_version(pipeline_name=f"hello {time.monotonic_ns()}")
    data = _post(version, new_experiment="never", param_epochs=None, param_shuffle=None)
    response = auth_client.post(CREATE, {**data, "param_greeting": "salut"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "The recurring run was not created" in body
    assert "Argo did not create the schedule" in body and "unreachable" in body
    assert RecurringRun.objects.count() == 0
    assert not Experiment.objects.filter(name="never").exists()


def test_always_the_latest_version_is_offered_and_kept(auth_client):
    older = make_version(name="v1")
    newer = make_version(name="v2", parameters=[{"name": "depth", "type": "Integer"}])
    page = auth_client.get(CREATE, {"version": older.pk}).content.decode()
    options = re.findall(r'<option value="([^"]*)"', page.split('name="version"')[1])
    assert options[:2] == ["", "latest"] and str(newer.pk) in options
    # Chosen: the newest version's parameters show, and the choice survives a redraw.
    chosen = auth_client.get(
        CREATE, {"pipeline": older.pipeline_id, "version": "latest", "run_type": "recurring"}
    )
    form = chosen.context["form"]
    assert form["version"].value() == "latest" and chosen.context["version"] == newer
    assert [f.name for f in form.parameter_fields()] == ["param_depth"]
    assert "Always the latest version</option>" in chosen.content.decode()
    assert 'value="latest" selected' in chosen.content.decode()


def test_one_off_with_the_latest_version_runs_the_newest(
    auth_client, django_capture_on_commit_callbacks
):
    older = make_version(name="v1")
    newer = make_version(name="v2")
    experiment = make_experiment()
    with django_capture_on_commit_callbacks():
        response = auth_client.post(
            CREATE, {**_post(older, "one_off", experiment=experiment.pk), "version": "latest"}
        )
    run = Run.objects.get()
    assert response.status_code == 302 and run.pipeline_version_id == newer.pk


@pytest.mark.django_db(transaction=True)
def test_recurring_with_the_latest_version_follows_new_versions(argo, auth_client):
    """Stored as "always the latest" (no version): its page says so, and the CronWorkflow
    moves to each newer version (the reconciler), so a run fires on the newest."""
    from apps.recurring.tasks import reconcile_cron_workflows

    version = hello_version(pipeline_name=f"hello {time.monotonic_ns()}")
    experiment = make_experiment(f"latest {time.monotonic_ns()}")
    response = auth_client.post(
        CREATE,
        {
            "pipeline": version.pipeline_id,
            "version": "latest",
            "name": "follows the latest",
            "experiment": experiment.pk,
            "run_type": "recurring",
            "trigger_type": "cron",
            "cron": "0 3 * * *",
            "every_unit": "hours",
            "timezone": "UTC",
            "max_concurrency": "1",
            "enabled": "on",
        },
    )
    assert response.status_code == 302, (
        response.context["form"].errors,
        _schedule(response).errors,
    )
    recurring = RecurringRun.objects.get()
    assert recurring.pipeline_version_id is None
    page = auth_client.get(response["Location"]).content.decode()
    assert "Always the latest version" in page
    client = get_client()
    newer = hello_version(pipeline=version.pipeline)
    assert reconcile_cron_workflows(client, ["argo"])["updated"] == 1
    cron = client.get_cron_workflow(recurring.cron_workflow_name)
    assert cron["spec"]["workflowMetadata"]["labels"]["ydpipelines.io/pipeline-version"] == str(
        newer.pk
    )
