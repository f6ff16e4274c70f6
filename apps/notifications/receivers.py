from __future__ import annotations

from typing import Any

from apps.notifications.deliveries import deliveries_for_misfire, deliveries_for_runs
from apps.notifications.tasks import deliver
from apps.orchestration.queue import enqueue_on_commit


def on_runs_finished(sender: Any, run_ids: list[Any], **kwargs: Any) -> None:
    """Log a delivery per subscriber in the sync's transaction; send them after it commits."""
    for delivery_id in deliveries_for_runs(run_ids):
        enqueue_on_commit(deliver, delivery_id)


def on_schedule_misfired(
    sender: Any, recurring_run_id: Any, message: str, scheduled_at: str, **kwargs: Any
) -> None:
    """Sent on every reconciler pass while the misfire stands: only a new one is delivered."""
    for delivery_id in deliveries_for_misfire(recurring_run_id, message, scheduled_at):
        enqueue_on_commit(deliver, delivery_id)
