"""Sending: a signed webhook to a local receiver (retry after a 500, none after a 4xx), and
an email through a local SMTP server. Attempts are called directly (each one logged on the row);
the Celery task is run with apply(), which performs its retries in place."""

import hashlib
import hmac
import json

import pytest
from django.db import IntegrityError
from django.utils import timezone

from apps.experiments.models import Experiment
from apps.notifications.constants import Channel, DeliveryStatus, Event
from apps.notifications.deliveries import (
    attempt_delivery,
    deliveries_for_misfire,
    deliveries_for_runs,
    due_deliveries,
)
from apps.notifications.models import Delivery, Subscription
from apps.notifications.tasks import deliver, resend_due_deliveries
from apps.runs.constants import RunState
from apps.runs.models import Run
from tests.notifications.conftest import gate_run
from tests.recurring.fixtures import hello_version
from tests.recurring.test_recurring_views import make_rr

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quick_backoff(settings):
    settings.YDP_NOTIFY_BACKOFF_SECONDS = 0.01
    settings.YDP_NOTIFY_MAX_ATTEMPTS = 3


def _finish(run: Run, state: str, message: str = "") -> Run:
    Run.objects.filter(pk=run.pk).update(state=state, message=message, finished_at=timezone.now())
    run.refresh_from_db()
    return run


def _webhook(run: Run, url: str, events=(Event.RUN_FAILED, Event.RUN_SUCCEEDED)) -> Subscription:
    return Subscription.objects.create(
        experiment=run.experiment, channel=Channel.WEBHOOK, url=url, events=list(events)
    )


def _signed(headers: dict[str, str], body: bytes, secret: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-YDP-Signature"], expected)


def test_a_webhook_answered_500_is_retried_and_then_delivered(receiver, settings):
    settings.YDP_PUBLIC_URL = "https://ydp.example"
    receiver.answers = [500, 200]
    run = _finish(gate_run(), RunState.FAILED, "Step 'approve' failed")
    sub = _webhook(run, receiver.url)
    [delivery_id] = deliveries_for_runs([run.pk])

    assert attempt_delivery(delivery_id) == pytest.approx(0.01)
    first = Delivery.objects.get(pk=delivery_id)
    assert (first.status, first.attempts, first.last_status_code) == ("retrying", 1, 500)
    assert "HTTP 500" in first.last_error and first.next_attempt_at is not None
    assert first.delivered_at is None

    assert attempt_delivery(delivery_id) is None
    done = Delivery.objects.get(pk=delivery_id)
    assert (done.status, done.attempts, done.last_status_code) == ("delivered", 2, 200)
    assert done.delivered_at is not None and done.next_attempt_at is None and not done.last_error

    assert len(receiver.requests) == 2
    for headers, body in receiver.requests:
        assert _signed(headers, body, sub.secret)
        assert headers["Content-Type"] == "application/json"
        payload = json.loads(body)
        assert str(payload["timestamp"]) == headers["X-YDP-Timestamp"]
    payload = json.loads(receiver.requests[-1][1])
    assert payload["event"] == "run_failed"
    assert payload["run"] == {
        "id": str(run.pk),
        "name": run.name,
        "state": "Failed",
        "message": "Step 'approve' failed",
        "experiment": "notified",
        "url": f"https://ydp.example/runs/{run.pk}/",
        "finished_at": run.finished_at.isoformat(),
    }
    # Delivered is final: another attempt (a duplicate task) sends nothing.
    assert attempt_delivery(delivery_id) is None
    assert len(receiver.requests) == 2


def test_the_task_retries_with_backoff_until_delivered(receiver):
    receiver.answers = [503, 502, 200]
    run = _finish(gate_run(), RunState.SUCCEEDED)
    _webhook(run, receiver.url)
    [delivery_id] = deliveries_for_runs([run.pk])
    deliver.apply(args=[delivery_id])
    assert len(receiver.requests) == 3
    delivery = Delivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts, delivery.event) == ("delivered", 3, "run_succeeded")


def test_a_4xx_answer_is_not_retried(receiver):
    receiver.answers = [410]
    run = _finish(gate_run(), RunState.FAILED)
    _webhook(run, receiver.url)
    [delivery_id] = deliveries_for_runs([run.pk])
    deliver.apply(args=[delivery_id])
    assert len(receiver.requests) == 1
    delivery = Delivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, 410)
    assert "HTTP 410" in delivery.last_error


def test_a_receiver_that_stays_down_is_given_up_after_the_last_attempt(receiver):
    receiver.answers = [500]
    run = _finish(gate_run(), RunState.ERROR)
    _webhook(run, receiver.url)
    [delivery_id] = deliveries_for_runs([run.pk])
    deliver.apply(args=[delivery_id])
    assert len(receiver.requests) == 3  # YDP_NOTIFY_MAX_ATTEMPTS
    delivery = Delivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts) == ("failed", 3)


def test_a_connection_refused_is_retried(settings):
    settings.YDP_NOTIFY_ALLOW_HTTP_LOOPBACK = True
    run = _finish(gate_run(), RunState.FAILED)
    _webhook(run, "http://127.0.0.1:9/hook")  # the discard port: nothing listens
    [delivery_id] = deliveries_for_runs([run.pk])
    assert attempt_delivery(delivery_id) == pytest.approx(0.01)
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.status == "retrying" and delivery.last_status_code is None
    assert "ConnectionError" in delivery.last_error


def test_an_email_reaches_the_smtp_server(smtp_server, settings):
    settings.DEFAULT_FROM_EMAIL = "ydp@example.org"
    run = _finish(gate_run(), RunState.FAILED, "Step 'approve' failed: out of memory")
    Subscription.objects.create(
        experiment=run.experiment,
        channel=Channel.EMAIL,
        email="oncall@example.org",
        events=[Event.RUN_FAILED],
    )
    [delivery_id] = deliveries_for_runs([run.pk])
    deliver.apply(args=[delivery_id])
    assert Delivery.objects.get(pk=delivery_id).status == DeliveryStatus.DELIVERED
    [(sender, recipients, text)] = smtp_server.messages
    assert sender == "ydp@example.org" and recipients == ["oncall@example.org"]
    assert f"Subject: [ydpipelines] Run {run.name} failed" in text
    assert "out of memory" in text and f"/runs/{run.pk}/" in text


def test_only_the_subscribed_events_and_targets_get_a_delivery(receiver):
    run = _finish(gate_run(), RunState.SUCCEEDED)
    _webhook(run, receiver.url, events=[Event.RUN_FAILED])
    other = Experiment.objects.create(name="elsewhere")
    Subscription.objects.create(
        experiment=other, channel=Channel.WEBHOOK, url=receiver.url, events=[Event.RUN_SUCCEEDED]
    )
    Subscription.objects.create(
        experiment=run.experiment,
        channel=Channel.WEBHOOK,
        url=receiver.url,
        events=[Event.RUN_SUCCEEDED],
        enabled=False,
    )
    assert deliveries_for_runs([run.pk]) == []
    wanted = _webhook(run, receiver.url, events=[Event.RUN_SUCCEEDED])
    [delivery_id] = deliveries_for_runs([run.pk])
    assert Delivery.objects.get(pk=delivery_id).subscription == wanted
    # Seen again (a repeated signal): no second delivery.
    assert deliveries_for_runs([run.pk]) == []


def test_a_subscription_has_exactly_one_target():
    with pytest.raises(IntegrityError):
        Subscription.objects.create(
            channel=Channel.EMAIL, email="a@example.org", events=[Event.RUN_FAILED]
        )


def test_the_reconciler_sends_a_delivery_whose_task_was_lost(receiver, eager_tasks, settings):
    settings.YDP_SUBMIT_STALE_SECONDS = 30
    run = _finish(gate_run(), RunState.SUCCEEDED)
    _webhook(run, receiver.url)
    [lost] = deliveries_for_runs([run.pk])  # no commit here, so its task was never queued
    assert due_deliveries() == []  # within the grace period its task may still come
    Delivery.objects.filter(pk=lost).update(
        next_attempt_at=timezone.now() - timezone.timedelta(seconds=31)
    )
    assert due_deliveries() == [lost]
    assert resend_due_deliveries() == 1
    assert len(receiver.requests) == 1
    assert Delivery.objects.get(pk=lost).status == "delivered"
    assert due_deliveries() == []


def test_a_misfire_is_delivered_once_to_the_recurring_run_and_its_experiment(smtp_server):
    rr = make_rr(hello_version(), Experiment.objects.create(name="schedules"))
    for target in ({"recurring_run": rr}, {"experiment": rr.experiment}):
        Subscription.objects.create(
            **target,
            channel=Channel.EMAIL,
            email="oncall@example.org",
            events=[Event.SCHEDULE_MISFIRED],
        )
    Subscription.objects.create(  # wants run ends only
        recurring_run=rr, channel=Channel.EMAIL, email="x@example.org", events=[Event.RUN_FAILED]
    )
    at = "2026-12-05T16:00:00Z"
    ids = deliveries_for_misfire(rr.pk, "templateRef: not found", at)
    assert len(ids) == 2
    assert deliveries_for_misfire(rr.pk, "templateRef: not found", at) == []  # the next pass
    assert len(deliveries_for_misfire(rr.pk, "templateRef: not found", "2026-12-05T16:01:00Z")) == 2
    deliver.apply(args=[ids[0]])
    [(_, recipients, text)] = smtp_server.messages
    assert recipients == ["oncall@example.org"]
    assert f"Subject: [ydpipelines] Recurring run {rr.name} could not start a run" in text
    assert "templateRef: not found" in text
