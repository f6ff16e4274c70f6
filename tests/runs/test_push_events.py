"""Run changes pushed over Redis pub/sub and served as server-sent events: the channels, the
stream's frames, its bound (429), its keep-alives, and its end when the client goes away. Real
Redis, real HTTP for the disconnect."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.experiments.models import Experiment
from apps.projects.models import Membership, Project
from apps.runs import event_views
from apps.runs.constants import RunState, StepPhase
from apps.runs.push import Subscription, list_channel, publish, run_channel
from apps.runs.sync import sync_workflows
from tests.experiments.builders import make_experiment, make_run, make_version

# Transactional: closing a stream's response sends request_finished, whose connection check
# would close a connection held in a test's transaction.
pytestmark = pytest.mark.django_db(transaction=True)

needs_redis = pytest.mark.skipif(
    not settings.REDIS_URL, reason="needs Redis: run the suite with REDIS_URL set"
)


@pytest.fixture(autouse=True)
def slots(monkeypatch):
    """This test's own stream bound: a browser test on this worker may still hold a stream of
    the live server (in this process) until its next keep-alive finds the page gone."""
    mine = event_views.StreamSlots()
    monkeypatch.setattr(event_views, "SLOTS", mine)
    return mine


@pytest.fixture
def run():
    return make_run(make_version(), make_experiment("push"), submitted_at=timezone.now())


def frames(response, count: int) -> list[str]:
    """The next `count` frames of a streaming response (the test client runs the generator
    in this thread)."""
    stream = iter(response.streaming_content)
    return [next(stream).decode() for _ in range(count)]


@needs_redis
def test_a_publish_reaches_the_runs_channel_and_the_lists(run):
    with Subscription([run_channel(run.pk), list_channel(run.experiment.project_id)]) as sub:
        publish({run.pk: RunState.RUNNING})
        got: list[dict] = []
        deadline = time.monotonic() + 5
        while len(got) < 2 and time.monotonic() < deadline:
            got += sub.wait(0.5)
    assert {"run": str(run.pk), "state": "Running"} in got
    assert {"runs": {str(run.pk): "Running"}} in got
    # The channels carry this session's prefix: parallel sessions do not hear each other.
    assert run_channel(run.pk).startswith(settings.YDP_REDIS_PREFIX)


@needs_redis
def test_the_run_stream_sends_each_change_then_keepalives(auth_client, run, monkeypatch):
    monkeypatch.setattr(event_views, "KEEPALIVE", 0.2)
    response = auth_client.get(reverse("runs:events", args=[run.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache"
    assert frames(response, 1) == ["retry: 2000\n: open\n\n"]
    publish({run.pk: RunState.SUCCEEDED})
    change = frames(response, 1)[0]
    assert change == f'event: change\ndata: {{"{run.pk}": "Succeeded"}}\n\n'
    assert frames(response, 1) == [": keep-alive\n\n"]  # quiet: a comment, not silence
    response.close()
    assert event_views.SLOTS.open == 0


@needs_redis
def test_the_list_stream_sends_every_runs_changes(auth_client, run):
    other = make_run(run.pipeline_version, run.experiment)
    response = auth_client.get(reverse("runs:list_events"))
    frames(response, 1)
    publish({run.pk: RunState.RUNNING, other.pk: RunState.FAILED})
    data = frames(response, 1)[0]
    assert data.startswith("event: change\n")
    assert str(run.pk) in data and str(other.pk) in data and "Failed" in data
    response.close()


@needs_redis
def test_a_list_stream_hears_only_its_projects_runs(client, run, django_user_model, monkeypatch):
    """The runs list's stream is the switcher's project's: a member of another project hears
    neither the ids nor the states of this project's runs, and cannot open this run's stream."""
    monkeypatch.setattr(event_views, "KEEPALIVE", 0.2)
    other = Project.objects.create(name="Elsewhere", slug="elsewhere")
    bob = django_user_model.objects.create_user("bob", password="pw-123456")
    Membership.objects.filter(user=bob).delete()
    Membership.objects.create(project=other, user=bob, role="owner")
    theirs = make_run(run.pipeline_version, Experiment.objects.create(name="theirs", project=other))
    client.force_login(bob)
    assert client.get(reverse("runs:events", args=[run.pk])).status_code == 404
    response = client.get(reverse("runs:list_events"))
    frames(response, 1)
    publish({run.pk: RunState.FAILED})
    assert frames(response, 1) == [": keep-alive\n\n"]  # nothing of the other project
    publish({theirs.pk: RunState.RUNNING})
    data = frames(response, 1)[0]
    assert data.startswith("event: change\n") and str(theirs.pk) in data
    assert str(run.pk) not in data
    response.close()
    assert event_views.SLOTS.open == 0


@needs_redis
def test_streams_past_the_bound_are_refused_with_429(auth_client, run, settings):
    settings.YDP_EVENT_STREAMS = 2
    url = reverse("runs:events", args=[run.pk])
    held = [auth_client.get(url), auth_client.get(url)]
    refused = auth_client.get(url)
    assert refused.status_code == 429 and refused["Retry-After"] == "10"
    held.pop().close()  # a stream that ends gives its slot back
    again = auth_client.get(url)
    assert again.status_code == 200
    for response in [*held, again]:
        response.close()
    assert event_views.SLOTS.open == 0


def test_a_stream_needs_a_login_and_an_existing_run(auth_client):
    url = reverse("runs:events", args=["00000000-0000-0000-0000-000000000000"])
    assert Client().get(url).status_code == 302  # to the login page
    assert auth_client.get(url).status_code == 404


def test_without_redis_the_stream_answers_503_and_the_page_polls(auth_client, run, settings):
    settings.REDIS_URL = ""
    response = auth_client.get(reverse("runs:events", args=[run.pk]))
    assert response.status_code == 503
    assert event_views.SLOTS.open == 0


@needs_redis
def test_a_closed_client_frees_its_stream(live_server, client, user, run, monkeypatch):
    """Over real HTTP: the browser goes; the next keep-alive fails, the server closes the
    stream, and its slot (thread, Redis connection) is free again."""
    monkeypatch.setattr(event_views, "KEEPALIVE", 0.2)
    client.force_login(user)
    cookies = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}
    url = live_server.url + reverse("runs:events", args=[run.pk])
    response = requests.get(url, cookies=cookies, stream=True, timeout=5)
    assert response.status_code == 200
    assert response.raw.read(11) == b"retry: 2000"  # the first frame, unbuffered
    assert event_views.SLOTS.open == 1
    response.close()
    deadline = time.monotonic() + 5
    while event_views.SLOTS.open and time.monotonic() < deadline:
        time.sleep(0.05)
    assert event_views.SLOTS.open == 0


@needs_redis
def test_the_sync_publishes_the_runs_it_changed_after_commit(run):
    workflow = {
        "metadata": {
            "name": run.workflow_name,
            "namespace": run.workflow_namespace,
            "resourceVersion": "7",
        },
        "status": {
            "phase": "Running",
            "progress": "0/1",
            "nodes": {
                "n1": {
                    "id": "n1",
                    "name": f"{run.workflow_name}.first",
                    "displayName": "first",
                    "type": "Pod",
                    "phase": StepPhase.RUNNING,
                }
            },
        },
    }
    got: list[dict] = []
    with Subscription([run_channel(run.pk)]) as sub:
        stats = sync_workflows([workflow])
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            got += sub.wait(0.5)
        assert stats["runs"] == 1
        assert got == [{"run": str(run.pk), "state": "Running"}]
        # The same workflow again: nothing moved, nothing is pushed.
        sync_workflows([workflow])
        assert sub.wait(0.3) == []
    assert run.steps.get().phase == StepPhase.RUNNING


def test_subscription_wait_returns_what_arrived_meanwhile(run):
    if not settings.REDIS_URL:
        pytest.skip("needs Redis")
    with Subscription([run_channel(run.pk)]) as sub:
        sub.wait(0.05)  # the subscribe confirmation

        def later() -> None:
            time.sleep(0.1)
            publish({run.pk: RunState.RUNNING})
            publish({run.pk: RunState.SUCCEEDED})

        threading.Thread(target=later).start()
        got: list[dict] = []
        deadline = time.monotonic() + 5
        while len(got) < 2 and time.monotonic() < deadline:
            got += sub.wait(1)
    assert [m["state"] for m in got] == ["Running", "Succeeded"]


@needs_redis
def test_a_stream_costs_a_fixed_number_of_queries(auth_client, run, django_assert_num_queries):
    # the session, its user, the caller's projects, the run; nothing while it streams but
    # the publisher's one lookup of the changed runs' projects (whose list channels to tell)
    with django_assert_num_queries(5):
        response = auth_client.get(reverse("runs:events", args=[run.pk]))
        frames(response, 1)
        publish({run.pk: RunState.RUNNING})
        frames(response, 1)
    response.close()
