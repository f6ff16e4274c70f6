"""Argo away: pages still render, runs say their status is stale and since when, and the sync
recovers when Argo is back."""

import pytest

from apps.orchestration.argo import get_client
from apps.runs.models import Run
from apps.runs.sync import sync_active_runs
from apps.runs.tasks import submit_run
from tests.integration.test_run_lifecycle import start
from tests.processes import free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


def test_sync_marks_runs_stale_while_argo_is_away_and_recovers(argo, settings, client, user):
    run = start("failing", {})
    assert submit_run(str(run.id)) == "created"
    sync_active_runs(get_client())
    run.refresh_from_db()
    state_before = run.state

    settings.ARGO_SERVER = f"http://127.0.0.1:{free_port()}"
    stats = sync_active_runs(get_client())
    assert stats["errors"] == 1
    run.refresh_from_db()
    assert run.state == state_before  # the last known state is kept
    assert "unreachable" in run.sync_error

    client.force_login(user)
    page = client.get(run.get_absolute_url())
    assert page.status_code == 200
    assert b"stale" in page.content.lower()

    settings.ARGO_SERVER = argo.url
    sync_active_runs(get_client())
    run = Run.objects.get(pk=run.pk)
    assert run.sync_error == ""
    get_client().terminate_workflow(run.workflow_name)
