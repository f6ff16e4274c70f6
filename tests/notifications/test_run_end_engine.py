"""End to end on the embedded engine: a run ends, the sync sees it, and the webhook arrives once;
later passes do not report the run again."""

import hashlib
import hmac
import json
import time

import pytest

from apps.notifications.constants import Channel, Event
from apps.notifications.models import Delivery, Subscription
from apps.orchestration.argo import get_client
from apps.runs.models import Run
from apps.runs.signals import runs_finished
from apps.runs.sync import sync_active_runs
from tests.notifications.conftest import gate_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


def _sync_until(run: Run, done, what: str) -> None:
    client = get_client()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sync_active_runs(client)
        if done():
            return
        time.sleep(0.3)
    raise AssertionError(what)


def test_a_finished_run_is_notified_once(argo, receiver, eager_tasks):
    signalled: list[list] = []

    def record(sender, run_ids, **kwargs):
        signalled.append(list(run_ids))

    runs_finished.connect(record)
    try:
        run = gate_run()
        sub = Subscription.objects.create(
            experiment=run.experiment,
            channel=Channel.WEBHOOK,
            url=receiver.url,
            events=[Event.RUN_SUCCEEDED],
        )
        # Eager: create_run submitted it to the engine as its transaction committed.
        _sync_until(
            run,
            lambda: run.steps.filter(display_name="approve", phase="Running").exists(),
            "the gate never started",
        )
        assert signalled == [] and receiver.requests == []

        get_client().resume_workflow(run.workflow_name)
        _sync_until(
            run,
            lambda: Run.objects.get(pk=run.pk).state == "Succeeded",
            "the resumed run never succeeded",
        )
        for _ in range(3):
            sync_active_runs(get_client())
    finally:
        runs_finished.disconnect(record)

    assert signalled == [[run.pk]]
    delivery = Delivery.objects.get()
    assert (delivery.run_id, delivery.status, delivery.attempts) == (run.pk, "delivered", 1)
    [(headers, body)] = receiver.requests
    expected = "sha256=" + hmac.new(sub.secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-YDP-Signature"] == expected
    payload = json.loads(body)
    assert payload["event"] == "run_succeeded"
    assert payload["run"]["id"] == str(run.pk) and payload["run"]["state"] == "Succeeded"
    assert payload["run"]["finished_at"]
