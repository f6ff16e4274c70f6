"""The app's image (Containerfile), built with Podman from the local base images, serves the
login page and its CSS as production does: DEBUG off, non-root, hashed static files from
WhiteNoise. Slow the first time (the dependencies' layer); Podman keeps it until the lock
changes."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.processes import free_port
from ydpipelines.localargo.containers import find_runtime, ulimits

ROOT = Path(__file__).resolve().parents[2]
TAG = "localhost/ydpipelines:test"
# A cold build (a new lock file) takes minutes on two busy cores: past the suite's 300 s default.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("podman") is None:
        pytest.skip("podman is absent: apt-get install podman to build the app's image")
    if shutil.which("mmdebstrap") is None:
        pytest.skip("mmdebstrap is absent: apt-get install mmdebstrap to make the base images")
    done = subprocess.run(
        ["bash", "scripts/app_image.sh", TAG],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return TAG


def test_the_image_serves_the_login_page_with_its_css(image, tmp_path):
    runtime = find_runtime("podman")
    assert runtime is not None, "podman does not answer `podman info`"
    port = free_port()
    name = f"ydp-image-test-{uuid.uuid4().hex[:8]}"
    command = (
        "python manage.py migrate --noinput -v0 && "
        "exec gunicorn ydpipelines.wsgi --bind 0.0.0.0:8000 --workers 1"
    )
    started = subprocess.run(
        runtime.cmd(
            "run", "-d", "--rm", "--name", name, *ulimits(),
            "--network", "slirp4netns:port_handler=slirp4netns",
            "-p", f"127.0.0.1:{port}:8000",
            # Production settings, a SQLite database inside, no Argo, no Redis.
            "-e", f"SECRET_KEY={secrets.token_urlsafe(48)}",
            "-e", "ALLOWED_HOSTS=127.0.0.1",
            "-e", "SECURE_SSL_REDIRECT=false",
            "-e", "LOG_FORMAT=json",
            "-e", "DATABASE_URL=sqlite:////var/lib/ydpipelines/db.sqlite3",
            "-e", "ARGO_SERVER=http://127.0.0.1:9",
            image, "sh", "-c", command,
        ),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, runtime.run("logs", name).stderr[-3000:]
            time.sleep(0.5)

        page = requests.get(f"{base}/accounts/login/", timeout=10)
        assert page.status_code == 200
        css = re.findall(r'href="(/static/[^"]+\.css)"', page.text)
        assert css, page.text[:2000]
        for href in css:
            assert re.search(r"\.[0-9a-f]{12}\.css$", href), href  # collectstatic's names
            answer = requests.get(base + href, timeout=10)
            assert answer.status_code == 200, href
            assert answer.headers["Content-Type"].startswith("text/css"), href
            assert "immutable" in answer.headers["Cache-Control"]

        # Ready but for Argo, which this container has none of: named, 503.
        ready = requests.get(f"{base}/readyz", timeout=15)
        assert ready.status_code == 503
        assert ready.json()["failed"] == ["argo"]

        uid = runtime.run("exec", name, "id", "-u")
        assert uid.stdout.strip() == "10001"
        logs = runtime.run("logs", name).stderr
        assert '"logger": "ydpipelines.health"' in logs  # JSON lines, with the readyz warning
    finally:
        runtime.run("rm", "-f", name, timeout=60)


def test_the_same_image_runs_the_worker_and_beat(image):
    """Celery loads the app (Django set up, tasks and the beat schedule found) in the image."""
    runtime = find_runtime("podman")
    assert runtime is not None
    code = (
        "from ydpipelines.celery import app; app.loader.import_default_modules(); "
        "print(sorted(app.conf.beat_schedule)); "
        "print('apps.runs.tasks.sync_runs' in app.tasks)"
    )
    done = runtime.run(
        "run", "--rm", *ulimits(), "--network", "none", image, "python", "-c", code,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    schedule, registered = done.stdout.strip().splitlines()[-2:]
    assert "sync-runs" in schedule and registered == "True"


def test_the_venv_layer_matches_what_the_build_installed(image):
    """The final stage copies the venv only when deps' venv.stamp changes (Containerfile): the
    image's venv holds the interpreter, packages and files that stamp names, so a stale layer
    (a venv that changed while its stamp did not) would show here."""
    runtime = find_runtime("podman")
    assert runtime is not None
    script = (
        "set -e; { /opt/venv/bin/python -VV; /opt/venv/bin/pip freeze --all; "
        "cd /opt/venv && find . -printf '%p %s %m %l\\n' | LC_ALL=C sort | sha256sum; } "
        "| cmp - /opt/venv.stamp && echo same"
    )
    done = runtime.run(
        "run", "--rm", *ulimits(), "--network", "none", "-e", "PIP_DISABLE_PIP_VERSION_CHECK=1",
        image, "sh", "-c", script, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "same", done.stdout + done.stderr
