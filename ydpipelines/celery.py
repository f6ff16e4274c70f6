"""The Celery app: workers sync Argo status, logs and artifacts."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ydpipelines.settings")

app = Celery("ydpipelines")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
