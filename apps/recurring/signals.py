"""Signals apps above recurring listen to (recurring imports none of them)."""

from django.dispatch import Signal

# Sent by the CronWorkflow reconciler on each pass that finds a recurring run's CronWorkflow
# carrying Argo's SubmissionError condition (a scheduled run that could not be started):
# recurring_run_id (UUID), message (str), scheduled_at (the CronWorkflow's lastScheduledTime,
# an ISO string or ""). The same misfire is sent on every pass until a submit works:
# receivers tell new ones apart by (scheduled_at, message).
schedule_misfired = Signal()
