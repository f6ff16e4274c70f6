from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_state_count_triggers(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    from django.db import connections

    from apps.runs.state_counts import ensure_triggers

    ensure_triggers(connections[using])


class RunsConfig(AppConfig):
    name = "apps.runs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The Celery app, before anything sends a task: shared tasks send with the current app,
        # which would otherwise be Celery's default one (and its default broker).
        import ydpipelines.celery  # noqa: F401

        # A later migration may rebuild runs_run on SQLite, which drops its triggers.
        post_migrate.connect(_ensure_state_count_triggers, sender=self)
        # Beat (one per install) also follows Argo's watch, so a change is synced at once.
        from celery.signals import beat_init

        from apps.runs.watch import start_watcher

        beat_init.connect(start_watcher, weak=False, dispatch_uid="ydp-workflow-watcher")
