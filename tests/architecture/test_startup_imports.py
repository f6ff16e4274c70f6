"""What a process that loads the app imports at start: Hera's models (about half a CPU-second)
only where a manifest is built, not at django.setup() or when the URLs and Celery tasks load
(README, Tests and benchmarks)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

LOAD = """
import sys, django
django.setup()
import ydpipelines.urls
from ydpipelines.celery import app
app.loader.import_default_modules()
print(sorted(m for m in sys.modules if m == 'hera' or m.startswith('hera.')))
"""


def test_loading_the_app_does_not_import_hera():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ydpipelines.settings"}
    out = subprocess.run(
        [sys.executable, "-c", LOAD], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_rendering_still_imports_hera():
    # The other side: the lazy import is the one that renders (the test above is not vacuous).
    from apps.pipelines import rendering
    from apps.pipelines.spec import PipelineSpec

    manifest = rendering.render_elyra_manifest(
        PipelineSpec(name="p", nodes=[]), version_id=uuid.uuid4()
    )
    assert manifest["kind"] == "Workflow"
    assert "hera.workflows" in sys.modules


ENGINE = """
import sys
import ydpipelines.localargo.engine, ydpipelines.localargo.server, ydpipelines.localargo.launcher
print(sorted({m.split('.')[0] for m in sys.modules} & {'celery', 'django', 'kombu'}))
"""

SENDS = """
import django
django.setup()
from celery import current_app
from django.conf import settings
print(current_app.main, current_app.conf.broker_url == settings.CELERY_BROKER_URL)
"""


def test_the_engine_starts_without_celery_or_django():
    out = subprocess.run([sys.executable, "-c", ENGINE], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_a_process_that_loads_the_app_sends_tasks_with_its_celery_app():
    # Without it a shared task's .delay() would go to Celery's default app and broker.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ydpipelines.settings"}
    out = subprocess.run(
        [sys.executable, "-c", SENDS], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "ydpipelines True", out.stdout
