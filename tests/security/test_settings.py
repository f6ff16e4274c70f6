"""Production settings pass `check --deploy`; yes/no settings refuse a typo; `make run`'s web
process listens on loopback unless HOST says otherwise."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from ydpipelines import launcher
from ydpipelines.env import env_bool, env_pair

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "DJANGO_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_in_production(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(48)[:50],
        ALLOWED_HOSTS="example.com",
        YDP_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout and "WARNING" not in result.stderr


def test_check_deploy_warns_when_https_is_turned_off(tmp_path):
    result = manage(
        "check",
        "--deploy",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(48)[:50],
        ALLOWED_HOSTS="example.com",
        YDP_DATA_DIR=str(tmp_path),
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="0",
    )
    assert "security.W008" in result.stderr and "security.W004" in result.stderr


def test_env_bool_refuses_a_typo(monkeypatch):
    monkeypatch.setenv("SECURE_SSL_REDIRECT", "flase")
    with pytest.raises(ImproperlyConfigured, match="SECURE_SSL_REDIRECT"):
        env_bool("SECURE_SSL_REDIRECT", True)
    monkeypatch.setenv("SECURE_SSL_REDIRECT", " Off ")
    assert env_bool("SECURE_SSL_REDIRECT", True) is False


def test_env_pair(monkeypatch):
    monkeypatch.setenv("SECURE_PROXY_SSL_HEADER", "HTTP_X_FORWARDED_PROTO, https")
    assert env_pair("SECURE_PROXY_SSL_HEADER") == ("HTTP_X_FORWARDED_PROTO", "https")
    monkeypatch.setenv("SECURE_PROXY_SSL_HEADER", "HTTP_X_FORWARDED_PROTO")
    with pytest.raises(ImproperlyConfigured):
        env_pair("SECURE_PROXY_SSL_HEADER")


@pytest.mark.parametrize(
    ("env", "address"),
    [({}, "127.0.0.1:8000"), ({"HOST": "0.0.0.0", "PORT": "9000"}, "0.0.0.0:9000"),
     ({"HOST": "::1"}, "[::1]:8000")],
)  # fmt: skip
def test_launcher_binds_loopback_by_default(env, address):
    web = launcher.commands(env)["web"]
    assert web[web.index("runserver") + 1] == address
