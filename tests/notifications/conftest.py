"""A local webhook receiver and a local SMTP server, real servers on loopback in threads."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.experiments.models import Experiment
from apps.pipelines.services import create_version
from apps.runs.models import Run
from apps.runs.services import create_run
from ydpipelines.celery import app

GATE = b"""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: gate-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: approve
        template: gate
  - name: gate
    suspend: {}
"""


@dataclass
class Receiver:
    """Answers each POST with the next status of `answers` (the last one repeats)."""

    url: str
    answers: list[int]
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    settings.YDP_NOTIFY_ALLOW_HTTP_LOOPBACK = True
    state = Receiver(url="", answers=[200])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((dict(self.headers), body))
            status = state.answers[min(len(state.requests), len(state.answers)) - 1]
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@dataclass
class Mailbox:
    port: int
    messages: list[tuple[str, list[str], str]] = field(default_factory=list)


@pytest.fixture
def smtp_server(settings) -> Iterator[Mailbox]:
    """Python 3.11's stdlib SMTP server (smtpd, deprecated but enough for a test), in a thread;
    the app's email goes to it through Django's real SMTP backend."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import asyncore
        import smtpd

    mailbox = Mailbox(port=0)

    class Server(smtpd.SMTPServer):
        def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
            text = data.decode() if isinstance(data, bytes) else data
            mailbox.messages.append((mailfrom, list(rcpttos), text))

    server = Server(("127.0.0.1", 0), None, decode_data=False)
    mailbox.port = server.socket.getsockname()[1]
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            asyncore.loop(timeout=0.1, count=1)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = mailbox.port
    settings.EMAIL_USE_TLS = False
    yield mailbox
    stop.set()
    thread.join(timeout=5)
    server.close()


def gate_run(experiment_name: str = "notified") -> Run:
    """A run of a one-gate pipeline (it waits until resumed; no container runs)."""
    version = create_version(upload_name="gate.yaml", data=GATE, pipeline_name="gate")
    experiment, _ = Experiment.objects.get_or_create(name=experiment_name)
    return create_run(version=version, experiment=experiment)


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Tasks run in place when queued (no worker in these tests)."""
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before
