from __future__ import annotations

from celery import Task, shared_task

from apps.notifications.deliveries import attempt_delivery, due_deliveries
from apps.orchestration.queue import enqueue


@shared_task(bind=True, acks_late=True, max_retries=None)
def deliver(self: Task, delivery_id: int) -> None:
    """One attempt; a transient failure comes back after its backoff. The row counts the
    attempts and gives up after YDP_NOTIFY_MAX_ATTEMPTS, so Celery's own limit is off."""
    delay = attempt_delivery(delivery_id)
    if delay is not None:
        raise self.retry(countdown=delay)


@shared_task
def resend_due_deliveries() -> int:
    """Reconciler on beat: queue again the deliveries whose task never ran or was lost."""
    ids = due_deliveries()
    for delivery_id in ids:
        enqueue(deliver, delivery_id)
    return len(ids)
