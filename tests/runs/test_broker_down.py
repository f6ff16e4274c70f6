"""With the task queue (Redis) down, a created or retried run is kept Pending for the reconciler:
the page redirects with a message instead of answering 500 after the run was stored."""

from __future__ import annotations

import socket

import kombu.pools
import pytest
from django.urls import reverse
from kombu import pools

from apps.orchestration.queue import QUEUE_DOWN_MESSAGE, enqueue
from apps.runs.constants import RunState
from apps.runs.models import Run
from apps.runs.tasks import submit_pending_runs, submit_run
from tests.experiments.builders import make_experiment, make_run, make_version
from tests.runs.test_views_form import _post
from ydpipelines.celery import app as celery_app

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _use_broker(url: str) -> None:
    celery_app.conf.broker_url = url
    # Drop the pooled connections and producers made for the previous URL. They live in kombu's
    # process-wide registries (the app's pool is one of them): closing a pool but leaving it
    # registered broke every later publish of this process ("Acquire on closed pool").
    pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    # kombu caches producer pools per connection, process-wide: one cached for the first URL
    # would hand later tests the connection pool closed above ("Acquire on closed pool").
    kombu.pools.reset()


@pytest.fixture
def broker_down():
    saved = celery_app.conf.broker_url
    _use_broker(f"redis://127.0.0.1:{_closed_port()}/0")
    yield
    _use_broker(saved)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_enqueue_reports_a_broker_that_is_not_there(broker_down):
    assert enqueue(submit_run, "00000000-0000-0000-0000-000000000000") is False


def test_create_run_with_the_broker_down_keeps_the_run_pending(broker_down, auth_client, settings):
    version = make_version()
    experiment = make_experiment("exp")
    response = auth_client.post(
        reverse("runs:create"), _post(version, experiment=experiment.pk), follow=True
    )
    run = Run.objects.get()
    assert response.redirect_chain == [(run.get_absolute_url(), 302)]
    assert run.state == RunState.PENDING and run.submitted_at is None
    assert f"Created “my run”: {QUEUE_DOWN_MESSAGE}." in _messages(response)
    assert QUEUE_DOWN_MESSAGE in response.content.decode()


def test_the_reconciler_queues_it_once_the_broker_is_back(broker_down, auth_client, settings):
    version = make_version()
    auth_client.post(reverse("runs:create"), _post(version, experiment=make_experiment().pk))
    assert Run.objects.count() == 1
    settings.YDP_SUBMIT_STALE_SECONDS = 0
    # Still down: the reconciler logs and moves on (it raised before).
    assert submit_pending_runs() == 1


def test_retry_with_the_broker_down_says_so(broker_down, auth_client):
    run = make_run(make_version(), make_experiment(), state=RunState.ERROR)
    response = auth_client.post(reverse("runs:retry", args=[run.pk]), follow=True)
    assert response.redirect_chain == [(run.get_absolute_url(), 302)]
    run.refresh_from_db()
    assert run.state == RunState.PENDING
    assert f"Retry {QUEUE_DOWN_MESSAGE}." in _messages(response)
