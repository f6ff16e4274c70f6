from django.apps import AppConfig


class ExperimentArchiveConfig(AppConfig):
    """An experiment as a whole, with the runs and recurring runs filed under it: archive,
    restore and delete move them together. It sits above experiments, runs and recurring (it
    uses all three, none of them uses it); no tables of its own."""

    name = "apps.experiment_archive"
