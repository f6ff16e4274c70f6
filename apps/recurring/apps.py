from django.apps import AppConfig


class RecurringConfig(AppConfig):
    name = "apps.recurring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The run form offers Run type "Recurring" (apps.runs cannot import this app).
        from apps.recurring.run_type import register_recurring

        register_recurring()
