"""The project package. Its Celery app (ydpipelines.celery) is loaded when Django starts
(apps.runs' ready()) and by `celery -A ydpipelines`, not here: the embedded engine and its step
launcher import this package without Django, and Celery would cost them a fifth of a CPU-second
at every start."""
