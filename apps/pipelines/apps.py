from django.apps import AppConfig


class PipelinesConfig(AppConfig):
    name = "apps.pipelines"
    default_auto_field = "django.db.models.BigAutoField"
