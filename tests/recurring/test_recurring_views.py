"""Recurring-run pages: list (queries pinned), detail, live preview, form refusals; and, against
the engine, the form creating a schedule and the actions."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.experiments.models import Experiment
from apps.orchestration.argo import ArgoNotFound, get_client
from apps.recurring.models import RecurringRun
from apps.runs.constants import RunState
from apps.runs.models import Run
from tests.recurring.fixtures import hello_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def version():
    return hello_version(pipeline_name=f"hello {time.monotonic_ns()}")


@pytest.fixture
def experiment():
    return Experiment.objects.create(name=f"nightly {time.monotonic_ns()}")


def make_rr(version, experiment, **fields) -> RecurringRun:
    """A row only (no CronWorkflow): enough for the pages that read."""
    values = {
        "name": "hourly hello",
        "experiment": experiment,
        "pipeline": version.pipeline,
        "pipeline_version": version,
        "trigger_type": "periodic",
        "interval_seconds": 3600,
        "parameters": {"greeting": "hi", "count": "3"},
        "namespace": "argo",
    }
    values.update(fields)
    rr = RecurringRun.objects.create(**values)
    RecurringRun.objects.filter(pk=rr.pk).update(cron_workflow_name=f"rr-{rr.pk.hex}")
    return rr


def form_data(version, exp, **overrides) -> dict:
    data = {
        "name": "every minute hello",
        "description": "",
        "experiment": exp.pk,
        "pipeline": version.pipeline_id,
        "version": version.pk,
        "trigger_type": "periodic",
        "every": "1",
        "every_unit": "minutes",
        "cron": "",
        "timezone": "UTC",
        "start_at": "",
        "end_at": "",
        "max_concurrency": "1",
        "enabled": "on",
        "param_greeting": "salut",
        "param_count": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_empty_list_says_what_to_do(auth_client):
    response = auth_client.get(reverse("recurring:list"))
    assert response.status_code == 200
    assert b"No recurring runs yet" in response.content
    assert reverse("recurring:create").encode() in response.content


def test_list_shows_each_status_with_a_fixed_number_of_queries(
    auth_client, version, experiment, django_assert_num_queries
):
    now = timezone.now()
    make_rr(version, experiment, name="rr-active")
    make_rr(version, experiment, name="rr-disabled", enabled=False)
    make_rr(version, experiment, name="rr-scheduled", start_at=now + timedelta(days=2))
    expired = make_rr(
        version,
        experiment,
        name="rr-expired",
        trigger_type="cron",
        cron="0 9 * * 1-5",
        interval_seconds=None,
        start_at=now - timedelta(days=9),
        end_at=now - timedelta(days=1),
    )
    for i in range(3):
        Run.objects.create(
            name=f"r{i}",
            experiment=experiment,
            pipeline_version=version,
            recurring_run=expired,
            state=RunState.SUCCEEDED,
            workflow_name=f"w{i}",
        )
    auth_client.get(reverse("recurring:list"))  # warm the session
    with django_assert_num_queries(5) as captured:  # session, user, count, page
        response = auth_client.get(reverse("recurring:list"))
    body = response.content.decode()
    for status in ("Active", "Disabled", "Scheduled", "Expired"):
        assert f"{status}</span>" in body, status
    assert "At 09:00, Monday through Friday" in body and "Every hour" in body
    assert "Succeeded" in body  # the last run's state
    # More rows, same queries.
    for i in range(6):
        make_rr(version, experiment, name=f"more {i}", pipeline_version=None)
    with django_assert_num_queries(len(captured)):
        response = auth_client.get(reverse("recurring:list"))
    assert response.content.decode().count("latest</span>") == 6


def test_detail_shows_settings_next_times_and_runs(auth_client, version, experiment):
    rr = make_rr(version, experiment, timezone="Europe/Paris", max_concurrency=3)
    Run.objects.create(
        name="hourly hello 2026-01-01 10:00",
        experiment=experiment,
        pipeline_version=version,
        recurring_run=rr,
        state=RunState.RUNNING,
        workflow_name="w-detail",
    )
    response = auth_client.get(reverse("recurring:detail", args=[rr.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Every hour" in body and "Europe/Paris" in body
    assert body.count("<li><time") == 5  # the next five times
    assert "hourly hello 2026-01-01 10:00" in body
    assert "greeting=hi" in body and "3 runs" in body


def test_preview_in_words_and_errors_name_the_field(auth_client):
    url = reverse("recurring:preview")
    headers = {"HX-Request": "true"}
    ok = auth_client.get(
        url, {"trigger_type": "cron", "cron": "30 9 * * 1-5", "timezone": "UTC"}, headers=headers
    )
    assert "At 09:30, Monday through Friday" in ok.content.decode()
    assert ok.content.decode().count("<li><time") == 5
    bad = auth_client.get(url, {"trigger_type": "cron", "cron": "30 9 * 13 *"}, headers=headers)
    assert "The month field" in bad.content.decode()
    often = auth_client.get(
        url,
        {
            "trigger_type": "periodic",
            "every": "30",
            "every_unit": "minutes",
            "start_at": "2026-01-01T10:10",
        },
    )
    assert "Every 30 minutes" in often.content.decode()
    ninety = auth_client.get(
        url, {"trigger_type": "periodic", "every": "90", "every_unit": "minutes"}
    )
    assert "As 2 cron lines" in ninety.content.decode()


@pytest.mark.parametrize(
    ("overrides", "field_error"),
    [
        ({"trigger_type": "cron", "cron": "0 25 * * *"}, "The hour field"),
        ({"trigger_type": "cron", "cron": "*/10 * * * * *"}, "6 fields"),
        ({"every": "0.5"}, "more than once a minute"),
        ({"every": "7"}, "does not repeat evenly"),
        ({"start_at": "2026-06-02T10:00", "end_at": "2026-06-01T10:00"}, "end must be after"),
        ({"max_concurrency": "11"}, "between 1 and 10"),
        ({"max_concurrency": "0"}, "between 1 and 10"),
        ({"experiment": ""}, "Choose the experiment"),
        ({"timezone": "Mars/Base"}, "Select a valid choice"),
    ],
)
def test_form_refusals_store_nothing(auth_client, version, experiment, overrides, field_error):
    response = auth_client.post(
        reverse("recurring:create"), form_data(version, experiment, **overrides)
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert field_error in body, body[:3000]
    assert "The recurring run was not created" in body
    assert RecurringRun.objects.count() == 0


def test_form_from_a_version_preselects_it_and_shows_its_parameters(auth_client, version):
    response = auth_client.get(reverse("recurring:create"), {"version": version.pk})
    body = response.content.decode()
    assert f'value="{version.pk}" selected' in body
    assert 'name="param_greeting"' in body and 'name="param_count"' in body
    refresh = auth_client.get(
        reverse("recurring:create"),
        {"refresh": "1", "pipeline": version.pipeline_id, "version": "", "param_greeting": "kept"},
        headers={"HX-Request": "true"},
    )
    part = refresh.content.decode()
    assert part.lstrip().startswith('<div id="recurring-dynamic">')
    assert "Always the latest version" in part and 'value="kept"' in part


@pytest.mark.django_db(transaction=True)
def test_create_then_act_from_the_pages(argo, auth_client, version, experiment):
    response = auth_client.post(reverse("recurring:create"), form_data(version, experiment))
    assert response.status_code == 302, response.content.decode()[:2000]
    rr = RecurringRun.objects.get()
    assert response.url == reverse("recurring:detail", args=[rr.pk])
    assert rr.parameters == {"greeting": "salut", "count": "3"} and rr.interval_seconds == 60
    client = get_client()
    assert client.get_cron_workflow(rr.cron_workflow_name)["spec"]["schedules"] == ["* * * * *"]

    auth_client.post(reverse("recurring:run_now", args=[rr.pk]))
    assert rr.runs.count() == 1
    auth_client.post(reverse("recurring:disable", args=[rr.pk]))
    assert client.get_cron_workflow(rr.cron_workflow_name)["spec"]["suspend"] is True
    detail = auth_client.get(reverse("recurring:detail", args=[rr.pk])).content.decode()
    assert "Disabled</span>" in detail and ">Enable</button>" in detail

    edit = auth_client.get(reverse("recurring:edit", args=[rr.pk])).content.decode()
    assert 'value="salut"' in edit
    response = auth_client.post(
        reverse("recurring:edit", args=[rr.pk]),
        form_data(version, experiment, trigger_type="cron", cron="15 6 * * *", enabled=None),
    )
    assert response.status_code == 302
    assert client.get_cron_workflow(rr.cron_workflow_name)["spec"]["schedules"] == ["15 6 * * *"]

    confirm = auth_client.get(reverse("recurring:delete", args=[rr.pk])).content.decode()
    assert "1 run it started stay" in confirm
    response = auth_client.post(reverse("recurring:delete", args=[rr.pk]))
    assert response.url == reverse("recurring:list")
    with pytest.raises(ArgoNotFound):
        client.get_cron_workflow(rr.cron_workflow_name)
    assert Run.objects.filter(recurring_run__isnull=True).count() == 1  # the run stays


@pytest.mark.django_db(transaction=True)
def test_argo_away_shows_the_error_and_stores_nothing(settings, auth_client, version, experiment):
    settings.ARGO_SERVER = "http://127.0.0.1:9"
    response = auth_client.post(reverse("recurring:create"), form_data(version, experiment))
    body = response.content.decode()
    assert "Argo did not create the schedule" in body and "unreachable" in body
    assert RecurringRun.objects.count() == 0


def test_login_is_required(client):
    response = client.get(reverse("recurring:list"))
    assert response.status_code == 302 and "login" in response.url


def test_start_and_end_are_read_in_the_chosen_timezone(auth_client, version, experiment):
    from apps.recurring.forms import RecurringRunForm

    form = RecurringRunForm(
        form_data(version, experiment, timezone="Asia/Tokyo", start_at="2026-06-01T09:00"),
        pipeline=version.pipeline,
        version=version,
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["start_at"] == datetime(2026, 6, 1, 0, 0, tzinfo=UTC)


def test_an_active_schedule_polls_its_runs_table(auth_client, version, experiment):
    rr = make_rr(version, experiment)
    page = auth_client.get(reverse("recurring:detail", args=[rr.pk])).content.decode()
    assert 'hx-trigger="every 5s"' in page
    Run.objects.create(
        name="fresh run",
        experiment=experiment,
        pipeline_version=version,
        recurring_run=rr,
        workflow_name="w-fresh",
    )
    part = auth_client.get(
        reverse("recurring:detail", args=[rr.pk]), {"part": "runs"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert part.lstrip().startswith('<section class="card" id="rr-runs"') and "fresh run" in part
    disabled = make_rr(version, experiment, enabled=False)
    page = auth_client.get(reverse("recurring:detail", args=[disabled.pk])).content.decode()
    assert 'hx-trigger="every 5s"' not in page


@pytest.mark.django_db(transaction=True)
def test_two_people_editing_the_same_schedule_lose_nothing(
    argo, auth_client, client, django_user_model, version, experiment
):
    response = auth_client.post(reverse("recurring:create"), form_data(version, experiment))
    rr = RecurringRun.objects.get()
    bob = django_user_model.objects.create_user("bob", "bob@example.com", "pw-bob-123")
    client.force_login(bob)
    edit = reverse("recurring:edit", args=[rr.pk])
    # Both open the form on the same revision.
    for person in (auth_client, client):
        form = person.get(edit).context["form"]
        assert form["revision"].value() == rr.revision == 1

    alice_saves = form_data(version, experiment, name="alice's name", revision="1")
    response = auth_client.post(edit, alice_saves)
    assert response.status_code == 302
    bob_saves = form_data(
        version, experiment, trigger_type="cron", cron="15 6 * * *", revision="1", every=""
    )
    response = client.post(edit, bob_saves)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Someone else saved" in body and "your changes were not saved" in body
    assert "name = alice&#x27;s name" in body
    assert 'name="revision" value="2"' in body  # saving again replaces Alice's edit, knowingly

    stored = RecurringRun.objects.get(pk=rr.pk)
    assert (stored.name, stored.trigger_type, stored.cron) == ("alice's name", "periodic", "")
    assert stored.revision == 2
    cron = get_client().get_cron_workflow(rr.cron_workflow_name)
    assert cron["spec"]["schedules"] == ["* * * * *"]  # Bob's schedule never reached Argo

    response = client.post(edit, {**bob_saves, "revision": "2"})
    assert response.status_code == 302
    assert RecurringRun.objects.get(pk=rr.pk).cron == "15 6 * * *"
    assert get_client().get_cron_workflow(rr.cron_workflow_name)["spec"]["schedules"] == [
        "15 6 * * *"
    ]
