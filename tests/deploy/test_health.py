"""/healthz and /readyz: no login, GET only, cheap; readiness names what failed, within its
deadline, against the real database, Redis and the embedded engine over HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.processes import free_port
from ydpipelines.celery import app as celery_app


def test_healthz_needs_no_login_and_no_database(client):
    # No django_db mark: a query here would raise.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_refuse_post(client, path):
    assert client.post(path).status_code == 405


@pytest.mark.django_db
def test_readyz_is_ready_when_everything_answers(client, settings, engine):
    settings.ARGO_SERVER = engine.url
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body == {
        "status": "ok",
        "failed": [],
        "checks": {"database": "ok", "cache": "ok", "broker": "ok", "argo": "ok"},
    }


@pytest.mark.django_db
def test_readyz_names_an_unreachable_argo(client, settings):
    settings.ARGO_SERVER = f"http://127.0.0.1:{free_port()}"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["argo"]
    assert body["checks"]["argo"] == "ArgoError"
    assert "127.0.0.1" not in response.content.decode()  # details go to the log only


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers: a hung dependency, which no engine does on
    demand."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.django_db
def test_readyz_answers_within_its_deadline_when_argo_hangs(client, settings, silent_server):
    settings.ARGO_SERVER = silent_server
    settings.YDP_READY_TIMEOUT_SECONDS = 0.5
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["argo"]
    assert body["checks"]["argo"] in ("timeout", "ArgoError")


@pytest.mark.django_db
def test_readyz_names_an_unreachable_cache_and_broker(client, settings, engine, monkeypatch):
    settings.ARGO_SERVER = engine.url
    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead}
    }
    monkeypatch.setitem(celery_app.conf, "broker_url", dead)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["broker", "cache"]
    assert body["checks"]["database"] == "ok" and body["checks"]["argo"] == "ok"


def test_probes_are_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/accounts/login/").status_code == 301
