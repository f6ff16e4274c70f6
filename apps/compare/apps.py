from django.apps import AppConfig


class CompareConfig(AppConfig):
    """Runs side by side (/runs/compare/): no tables of its own, it reads the runs app's."""

    name = "apps.compare"
