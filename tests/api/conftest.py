"""Personas and data of the API tests."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from apps.api.models import ApiToken
from apps.api.tokens import issue_token
from apps.orchestration.argo import get_client
from apps.runs.constants import RunState
from apps.runs.models import Run
from apps.runs.outputs import fetch_step_outputs
from apps.runs.sync import sync_active_runs
from apps.runs.tasks import submit_run
from tests.processes import clear_redis

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "ydp"

WORKFLOW = b"""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: hello-
spec:
  entrypoint: main
  arguments:
    parameters:
    - name: greeting
      value: hello
  templates:
  - name: main
    container:
      image: localhost/ydp-busybox:1
      command: [sh, -c]
      args: ["echo {{workflow.parameters.greeting}}"]
"""


@pytest.fixture(autouse=True)
def clean_limits():
    """Token-failure counters live in the shared cache: each test starts without any. Only this
    session's keys go (cache.clear() would flush the whole Redis DB, other workers' keys too)."""
    clear_redis(settings)
    yield
    clear_redis(settings)


def _token(user, role: str) -> str:
    token, text = issue_token(user, name=f"{role} token", role=role)
    # Used just now: the first request does not write last_used_at (counts stay fixed).
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return text


@pytest.fixture
def write_token(user) -> str:
    return _token(user, "write")


@pytest.fixture
def read_token(user) -> str:
    return _token(user, "read")


@pytest.fixture
def writer(client, write_token):
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {write_token}"
    return client


@pytest.fixture
def reader(client, read_token):
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {read_token}"
    return client


# -- live: the engine, a worker in a thread, and `ydp` as a subprocess ----------------------


class Worker(threading.Thread):
    """What the Celery worker and beat do, in the test's process. A real worker copies a
    step's outputs a moment after the sync saw its end: `copy_delay` (seconds) makes that
    moment long, and clearing `copies` holds every copy back (a worker that is down)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.copy_delay = 0.0
        self.copies = threading.Event()
        self.copies.set()
        self._queued: list[tuple[float, int]] = []  # (when due, step id)

    def run(self) -> None:
        try:
            client = get_client()
            while not self.stop.wait(0.3):
                for run_id in Run.objects.filter(
                    state=RunState.PENDING, submitted_at__isnull=True
                ).values_list("id", flat=True):
                    submit_run(str(run_id))
                stats = sync_active_runs(client)
                due = time.monotonic() + self.copy_delay
                self._queued += [(due, step_id) for step_id in stats["finished_step_ids"]]
                if self.copies.is_set():
                    now = time.monotonic()
                    for when, step_id in self._queued:
                        if when <= now:
                            fetch_step_outputs(client, step_id)
                    self._queued = [(w, i) for w, i in self._queued if w > now]
                close_old_connections()
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            connection.close()


@pytest.fixture
def worker(argo):
    thread = Worker()
    thread.start()
    yield thread
    thread.stop.set()
    thread.join(timeout=10)
    assert thread.error is None, thread.error


@pytest.fixture
def ydp(tmp_path, live_server):
    env = {
        **os.environ,
        "PYTHONPATH": str(CLIENT),
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config"),
    }
    env.pop("YDP_URL", None)
    env.pop("YDP_TOKEN", None)

    def call(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "ydp", *args],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=240,
        )  # fmt: skip

    return call
