from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "apps.notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # apps.runs and apps.recurring send the signals; they cannot import this app (above them).
        from apps.notifications.receivers import on_runs_finished, on_schedule_misfired
        from apps.recurring.signals import schedule_misfired
        from apps.runs.signals import runs_finished

        runs_finished.connect(on_runs_finished, dispatch_uid="notifications.on_runs_finished")
        schedule_misfired.connect(
            on_schedule_misfired, dispatch_uid="notifications.on_schedule_misfired"
        )
