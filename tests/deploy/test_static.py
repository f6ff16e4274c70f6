"""Static files come from the app itself: from the source folders under DEBUG and in tests,
from collectstatic's hashed, compressed copies in production."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def test_static_files_are_served_by_the_app_without_collectstatic(client):
    # DEBUG is off while tests run, so Django itself serves nothing under /static/.
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert (
        "whitenoise"
        in settings.MIDDLEWARE[
            settings.MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1
        ].lower()
    )


# Runs in a process of its own: the storage is chosen when the settings load.
PRODUCTION_PAGE = """
from django.test import Client
client = Client()
page = client.get("/accounts/login/")
css = [href for href in __import__("re").findall(r'href="(/static/[^"]+\\.css)"', page.text)]
answer = client.get(css[0], headers={"accept-encoding": "gzip"})
print(__import__("json").dumps({
    "page": page.status_code, "css": css, "status": answer.status_code,
    "type": answer["Content-Type"], "encoding": answer.get("Content-Encoding", ""),
    "cache": answer.get("Cache-Control", ""),
}))
"""


def production_env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "DJANGO_"))}
    return {
        **clean,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "testserver",
        "SECURE_SSL_REDIRECT": "0",
        "YDP_DATA_DIR": str(tmp_path / "data"),
        "STATIC_ROOT": str(tmp_path / "static"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }


def test_production_serves_hashed_compressed_files_after_collectstatic(tmp_path):
    env = production_env(tmp_path)
    run = [sys.executable, "manage.py"]
    done = subprocess.run(
        [*run, "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())
    hashed = manifest["paths"]["css/app.css"]
    assert re.fullmatch(r"css/app\.[0-9a-f]{12}\.css", hashed)
    assert (tmp_path / "static" / f"{hashed}.gz").exists()

    shown = subprocess.run(
        [*run, "shell", "-c", PRODUCTION_PAGE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    seen = json.loads(shown.stdout.strip().splitlines()[-1])
    assert seen["page"] == 200
    assert f"/static/{hashed}" in seen["css"]
    assert seen["status"] == 200 and seen["type"].startswith("text/css")
    assert seen["encoding"] == "gzip"
    assert "immutable" in seen["cache"]  # hashed names are cached forever


def test_production_without_collectstatic_fails_loudly(tmp_path):
    """A forgotten collectstatic is an error at the first page, not pages without CSS."""
    env = production_env(tmp_path)
    shown = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PRODUCTION_PAGE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode != 0
    assert "Missing staticfiles manifest" in shown.stderr
