"""Creating deliveries when runs end, and making one attempt at one (the log is the row)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.notifications.constants import (
    EVENT_OF_STATE,
    OPEN_STATUSES,
    Channel,
    DeliveryStatus,
    Event,
)
from apps.notifications.models import Delivery, Subscription
from apps.notifications.senders import SendError, post_webhook, send_email
from apps.recurring.models import RecurringRun
from apps.runs.models import Run


def deliveries_for_runs(run_ids: list[Any]) -> list[int]:
    """A Delivery row for each enabled subscription that wants the event each run ended with;
    returns their ids. A run seen a second time gets no second delivery."""
    runs = list(
        Run.objects.filter(pk__in=run_ids).only("id", "state", "experiment_id", "recurring_run_id")
    )
    runs = [run for run in runs if run.state in EVENT_OF_STATE]
    if not runs:
        return []
    experiments = {run.experiment_id for run in runs}
    recurring = {run.recurring_run_id for run in runs if run.recurring_run_id}
    subscriptions = list(
        Subscription.objects.filter(enabled=True).filter(
            Q(experiment_id__in=experiments) | Q(recurring_run_id__in=recurring)
        )
    )
    created: list[int] = []
    for run in runs:
        event = EVENT_OF_STATE[run.state]
        for sub in subscriptions:
            targets = sub.experiment_id == run.experiment_id or (
                sub.recurring_run_id is not None and sub.recurring_run_id == run.recurring_run_id
            )
            if not targets or event not in sub.events:
                continue
            delivery_id = _create_once(sub, event, key=str(run.pk), run=run)
            if delivery_id is not None:
                created.append(delivery_id)
    return created


def deliveries_for_misfire(recurring_run_id: Any, message: str, scheduled_at: str) -> list[int]:
    """A Delivery row for each enabled subscription, of the recurring run or of its
    experiment, that wants misfires; the same misfire reported again gets no second one."""
    recurring = RecurringRun.objects.filter(pk=recurring_run_id).only("id", "experiment_id").first()
    if recurring is None:
        return []
    subscriptions = Subscription.objects.filter(enabled=True).filter(
        Q(recurring_run_id=recurring.pk) | Q(experiment_id=recurring.experiment_id)
    )
    key = hashlib.sha256(f"{scheduled_at}\n{message}".encode()).hexdigest()
    created: list[int] = []
    for sub in subscriptions:
        if Event.SCHEDULE_MISFIRED not in sub.events:
            continue
        delivery_id = _create_once(
            sub, Event.SCHEDULE_MISFIRED, key=key, recurring=recurring, detail=message
        )
        if delivery_id is not None:
            created.append(delivery_id)
    return created


def _create_once(sub: Subscription, event: str, *, key: str, **fields: Any) -> int | None:
    try:
        with transaction.atomic():
            delivery = Delivery.objects.create(
                subscription=sub, event=event, key=key, next_attempt_at=timezone.now(), **fields
            )
    except IntegrityError:
        return None  # told already
    return delivery.pk


def payload_of(delivery: Delivery) -> dict[str, Any]:
    if delivery.run is None:
        recurring = delivery.recurring
        return {
            "event": delivery.event,
            "delivery": delivery.pk,
            "recurring_run": {
                "id": str(recurring.pk),
                "name": recurring.name,
                "experiment": recurring.experiment.name,
                "url": settings.YDP_PUBLIC_URL + recurring.get_absolute_url(),
                "message": delivery.detail,
            },
        }
    run = delivery.run
    return {
        "event": delivery.event,
        "delivery": delivery.pk,
        "run": {
            "id": str(run.pk),
            "name": run.name,
            "state": run.state,
            "message": run.message,
            "experiment": run.experiment.name,
            "url": settings.YDP_PUBLIC_URL + run.get_absolute_url(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        },
    }


def _send(delivery: Delivery) -> int | None:
    sub = delivery.subscription
    payload = payload_of(delivery)
    if sub.channel == Channel.WEBHOOK:
        return post_webhook(sub.url, sub.secret, payload)
    if delivery.run is None:
        rr = payload["recurring_run"]
        subject = f"[ydpipelines] Recurring run {rr['name']} could not start a run"
        text = (
            f"A scheduled run of {rr['name']} (experiment {rr['experiment']}) could not be "
            f"started.\n{rr['message']}\n{rr['url']}\n"
        )
        send_email(sub.email, subject, text)
        return None
    run = payload["run"]
    subject = f"[ydpipelines] Run {run['name']} {run['state'].lower()}"
    text = (
        f"Run {run['name']} of experiment {run['experiment']} ended: {run['state']}.\n"
        + (f"{run['message']}\n" if run["message"] else "")
        + f"Finished at {run['finished_at']}\n{run['url']}\n"
    )
    send_email(sub.email, subject, text)
    return None


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones: doubling each time."""
    return settings.YDP_NOTIFY_BACKOFF_SECONDS * 2 ** (attempts - 1)


def attempt_delivery(delivery_id: int) -> float | None:
    """Try to send once and log the outcome on the row. Returns the delay before another
    attempt when one is due, else None (delivered, given up, or nothing to do)."""
    delivery = (
        Delivery.objects.select_related("subscription", "run__experiment", "recurring__experiment")
        .filter(pk=delivery_id, status__in=OPEN_STATUSES)
        .first()
    )
    if delivery is None:
        return None
    now = timezone.now()
    # Claim this attempt (a task queued twice, or by the reconciler, must not send twice); until
    # it is logged, the reconciler leaves the row alone.
    claimed = Delivery.objects.filter(
        pk=delivery.pk, attempts=delivery.attempts, status__in=OPEN_STATUSES
    ).update(
        attempts=F("attempts") + 1,
        next_attempt_at=now + timedelta(seconds=settings.YDP_NOTIFY_TIMEOUT_SECONDS * 3),
    )
    if claimed != 1:
        return None
    delivery.attempts += 1
    delay = None
    try:
        delivery.last_status_code = _send(delivery)
    except SendError as exc:
        delivery.last_status_code = exc.status_code
        delivery.last_error = str(exc)[:2000]
        if exc.permanent or delivery.attempts >= settings.YDP_NOTIFY_MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
        else:
            delay = retry_delay(delivery.attempts)
            delivery.status = DeliveryStatus.RETRYING
            delivery.next_attempt_at = now + timedelta(seconds=delay)
    else:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        delivery.last_error = ""
    delivery.save(
        update_fields=[
            "attempts",
            "status",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "delivered_at",
        ]
    )
    return delay


def due_deliveries(limit: int = 200) -> list[int]:
    """Deliveries whose attempt is overdue: their task was lost (broker down at the commit, a
    worker killed during a backoff). Given YDP_SUBMIT_STALE_SECONDS of grace first."""
    stale = timezone.now() - timedelta(seconds=settings.YDP_SUBMIT_STALE_SECONDS)
    return list(
        Delivery.objects.filter(status__in=OPEN_STATUSES, next_attempt_at__lt=stale)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
