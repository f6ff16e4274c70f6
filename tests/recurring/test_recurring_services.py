"""Recurring-run services against the embedded engine over HTTP: the row and its CronWorkflow
stay in step; when Argo is away nothing is stored; spawned workflows become runs, once."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.experiments.models import Experiment
from apps.orchestration.argo import ArgoNotFound, get_client
from apps.recurring.cron import SEMAPHORE_CONFIGMAP
from apps.recurring.models import RecurringRun
from apps.recurring.services import (
    RecurringError,
    create_recurring_run,
    delete_recurring_run,
    record_spawned_run,
    run_now,
    set_enabled,
    status_of,
    update_recurring_run,
)
from apps.recurring.tasks import (
    discover_recurring_runs,
    discover_spawned_runs,
    reconcile_cron_workflows,
)
from apps.runs.constants import RunState
from apps.runs.models import Run
from tests.recurring.fixtures import hello_version, schedule_settings

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture
def version():
    return hello_version(pipeline_name=f"hello {time.monotonic_ns()}")


@pytest.fixture
def experiment():
    return Experiment.objects.create(name=f"schedules {time.monotonic_ns()}")


def test_create_makes_the_cron_workflow(argo, version, experiment):
    rr = create_recurring_run(schedule_settings(version, experiment))
    cron = get_client().get_cron_workflow(rr.cron_workflow_name)
    assert cron["spec"]["schedules"] == ["0 3 * * *"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["suspend"] is False
    assert rr.parameters == {"greeting": "bonjour", "count": "3"}  # the default filled in
    assert RecurringRun.objects.get(pk=rr.pk).namespace == "argo"
    assert status_of(rr) == "active"


def test_create_with_max_three_writes_the_semaphore_limit(argo, version, experiment):
    rr = create_recurring_run(schedule_settings(version, experiment, max_concurrency=3))
    limit = argo.data_dir / "configmaps" / "argo" / SEMAPHORE_CONFIGMAP / rr.cron_workflow_name
    assert limit.read_text() == "3"
    cron = get_client().get_cron_workflow(rr.cron_workflow_name)
    assert cron["spec"]["concurrencyPolicy"] == "Allow"


def test_update_replaces_the_schedule(argo, version, experiment):
    rr = create_recurring_run(schedule_settings(version, experiment))
    rr = update_recurring_run(
        rr,
        schedule_settings(
            version,
            experiment,
            trigger_type="periodic",
            cron="",
            interval_seconds=90 * 60,
            timezone="Europe/Paris",
            name="renamed",
        ),
    )
    cron = get_client().get_cron_workflow(rr.cron_workflow_name)
    assert cron["spec"]["schedules"] == ["0 */3 * * *", "30 1-22/3 * * *"]
    assert cron["spec"]["timezone"] == "Europe/Paris"
    stored = RecurringRun.objects.get(pk=rr.pk)
    assert stored.name == "renamed" and stored.cron == "" and stored.interval_seconds == 5400


def test_disable_suspends_enable_resumes(argo, version, experiment):
    rr = create_recurring_run(schedule_settings(version, experiment))
    set_enabled(rr, False)
    assert get_client().get_cron_workflow(rr.cron_workflow_name)["spec"]["suspend"] is True
    assert status_of(RecurringRun.objects.get(pk=rr.pk)) == "disabled"
    set_enabled(rr, True)
    assert get_client().get_cron_workflow(rr.cron_workflow_name)["spec"]["suspend"] is False


def test_delete_removes_both(argo, version, experiment):
    rr = create_recurring_run(schedule_settings(version, experiment))
    delete_recurring_run(rr)
    assert not RecurringRun.objects.filter(pk=rr.pk).exists()
    with pytest.raises(ArgoNotFound):
        get_client().get_cron_workflow(rr.cron_workflow_name)


def test_argo_unreachable_stores_nothing(settings, version, experiment):
    settings.ARGO_SERVER = "http://127.0.0.1:9"
    settings.ARGO_TIMEOUT_SECONDS = 2
    with pytest.raises(RecurringError, match=r"unreachable.*Nothing was changed"):
        create_recurring_run(schedule_settings(version, experiment))
    assert RecurringRun.objects.count() == 0


def test_argo_unreachable_leaves_the_row_unchanged(argo, settings, version, experiment):
    rr = create_recurring_run(schedule_settings(version, experiment))
    settings.ARGO_SERVER = "http://127.0.0.1:9"
    with pytest.raises(RecurringError, match="unreachable"):
        update_recurring_run(rr, schedule_settings(version, experiment, cron="0 4 * * *"))
    with pytest.raises(RecurringError, match="unreachable"):
        set_enabled(rr, False)
    with pytest.raises(RecurringError, match="unreachable"):
        delete_recurring_run(rr)
    stored = RecurringRun.objects.get(pk=rr.pk)
    assert stored.cron == "0 3 * * *" and stored.enabled


def test_end_before_start_and_bad_parameters_store_nothing(argo, version, experiment):
    now = timezone.now()
    with pytest.raises(RecurringError, match="end must be after the start"):
        create_recurring_run(
            schedule_settings(version, experiment, start_at=now, end_at=now - timedelta(hours=1))
        )
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        create_recurring_run(schedule_settings(version, experiment, parameters={"nope": "1"}))
    assert RecurringRun.objects.count() == 0


def test_run_now_records_a_run_once_and_discover_finds_lost_ones(argo, version, experiment):
    rr = create_recurring_run(schedule_settings(version, experiment))
    run = run_now(rr)
    assert run.recurring_run_id == rr.pk and run.experiment_id == experiment.pk
    assert run.pipeline_version_id == version.pk
    assert run.parameters == {"greeting": "bonjour", "count": "3"}
    assert run.state in (RunState.PENDING, RunState.RUNNING) and run.submitted_at
    assert run.name.startswith("nightly hello ")
    workflow = get_client().get_workflow(run.workflow_name)
    assert workflow["metadata"]["labels"]["ydpipelines.io/recurring-run"] == str(rr.pk)

    # Asking again for the same workflow gives the same row.
    assert record_spawned_run(rr.pk, workflow).pk == run.pk
    # A row lost (say, a web worker died before writing it) is found by discovery, once.
    Run.objects.filter(pk=run.pk).delete()
    assert discover_spawned_runs(get_client(), ["argo"]) == 1
    assert discover_spawned_runs(get_client(), ["argo"]) == 0
    found = Run.objects.get(workflow_name=run.workflow_name)
    assert found.recurring_run_id == rr.pk


def test_reconcile_suspends_past_the_end_and_resumes_at_the_start(argo, version, experiment):
    now = timezone.now()
    rr = create_recurring_run(
        schedule_settings(version, experiment, start_at=now + timedelta(hours=1))
    )
    client = get_client()
    assert client.get_cron_workflow(rr.cron_workflow_name)["spec"]["suspend"] is True
    assert status_of(rr) == "scheduled"
    # The start comes.
    RecurringRun.objects.filter(pk=rr.pk).update(start_at=now - timedelta(minutes=1))
    stats = reconcile_cron_workflows(client, ["argo"])
    assert stats["resumed"] == 1
    assert client.get_cron_workflow(rr.cron_workflow_name)["spec"]["suspend"] is False
    # The end passes.
    RecurringRun.objects.filter(pk=rr.pk).update(end_at=now)
    assert reconcile_cron_workflows(client, ["argo"])["suspended"] == 1
    assert client.get_cron_workflow(rr.cron_workflow_name)["spec"]["suspend"] is True
    assert status_of(RecurringRun.objects.get(pk=rr.pk)) == "expired"
    assert reconcile_cron_workflows(client, ["argo"])["suspended"] == 0


def test_latest_version_mode_follows_new_versions(argo, version, experiment):
    rr = create_recurring_run(schedule_settings(version, experiment, pipeline_version=None))
    client = get_client()
    labels = client.get_cron_workflow(rr.cron_workflow_name)["spec"]["workflowMetadata"]["labels"]
    assert labels["ydpipelines.io/pipeline-version"] == str(version.pk)
    newer = hello_version(pipeline=version.pipeline)
    assert reconcile_cron_workflows(client, ["argo"])["updated"] == 1
    labels = client.get_cron_workflow(rr.cron_workflow_name)["spec"]["workflowMetadata"]["labels"]
    assert labels["ydpipelines.io/pipeline-version"] == str(newer.pk)


def test_a_schedule_that_fires_spawns_a_run_that_discovery_records(argo, version, experiment):
    """The engine fires the CronWorkflow and discovery records the run. The form's schedules
    are whole minutes; the test's engine (--cron-seconds) fires a 6-field schedule every second,
    so the CronWorkflow's schedule is changed to that one in Argo: no real minute to wait."""
    rr = create_recurring_run(schedule_settings(version, experiment, cron="* * * * *"))
    client = get_client()
    cron = client.get_cron_workflow(rr.cron_workflow_name)
    assert cron["spec"]["schedules"] == ["* * * * *"]
    cron["spec"]["schedules"] = ["* * * * * *"]
    client.update_cron_workflow(cron)
    deadline = time.monotonic() + 20
    while not rr.runs.exists():
        assert time.monotonic() < deadline, "the schedule fired no run that discovery found"
        discover_recurring_runs.run()
        time.sleep(0.2)
    client.suspend_cron_workflow(rr.cron_workflow_name)  # one run is what this test follows
    run = rr.runs.order_by("created_at").first()
    assert run.workflow_name.startswith(f"{rr.cron_workflow_name}-")
    assert run.experiment_id == experiment.pk
    # From here the regular sync follows it like any run.
    from tests.integration.helpers import sync_until_finished

    run = sync_until_finished(run, timeout=30)
    assert run.state == RunState.SUCCEEDED, run.message


# Each run waits (suspended) until the test resumes it: what runs at once can be read at leisure.
WAITING_YAML = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: waiting-
spec:
  entrypoint: main
  templates:
    - name: main
      suspend: {}
"""


def test_max_two_lets_two_of_three_run_at_once(argo, experiment):
    from apps.pipelines.services import create_version

    version = create_version(
        upload_name="waiting.yaml", data=WAITING_YAML.encode(), pipeline_name="waiting"
    )
    rr = create_recurring_run(
        schedule_settings(version, experiment, parameters={}, max_concurrency=2)
    )
    names = [run_now(rr).workflow_name for _ in range(3)]
    client = get_client()

    def phases_once(want: list[str]) -> dict[str, dict]:
        """The three workflows once their phases (sorted) are `want`; they hold still, since
        each waits to be resumed."""
        deadline = time.monotonic() + 20
        while True:
            workflows = {n: client.get_workflow(n) for n in names}
            got = sorted(wf["status"].get("phase") or "" for wf in workflows.values())
            if got == want:
                return workflows
            assert time.monotonic() < deadline, f"phases {got}, expected {want}"
            time.sleep(0.1)

    def of_phase(workflows: dict[str, dict], phase: str) -> list[str]:
        return [n for n, wf in workflows.items() if wf["status"].get("phase") == phase]

    workflows = phases_once(["Pending", "Running", "Running"])
    (waiting,) = of_phase(workflows, "Pending")
    assert "lock" in workflows[waiting]["status"]["message"]
    assert "(2/2)" in workflows[waiting]["status"]["message"]  # both places are taken
    first, second = of_phase(workflows, "Running")
    client.resume_workflow(first)
    # The freed place goes to the waiting run; still never three at once.
    workflows = phases_once(["Running", "Running", "Succeeded"])
    assert set(of_phase(workflows, "Running")) == {second, waiting}
    client.resume_workflow(second)
    client.resume_workflow(waiting)
    phases_once(["Succeeded", "Succeeded", "Succeeded"])


def test_reconcile_recreates_a_cron_workflow_gone_from_argo(argo, version, experiment):
    rr = create_recurring_run(schedule_settings(version, experiment, max_concurrency=2))
    client = get_client()
    client.delete_cron_workflow(rr.cron_workflow_name)
    assert reconcile_cron_workflows(client, ["argo"])["recreated"] == 1
    cron = client.get_cron_workflow(rr.cron_workflow_name)
    assert cron["spec"]["concurrencyPolicy"] == "Allow"
    assert reconcile_cron_workflows(client, ["argo"])["recreated"] == 0
