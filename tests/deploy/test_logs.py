"""LOG_FORMAT=json: one JSON object per line with the request's id; Sentry only with a DSN."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from ydpipelines.logs import JsonFormatter, RequestIdFilter, RequestIdMiddleware

ROOT = Path(__file__).resolve().parents[2]


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("LOG_FORMAT", "SENTRY_DSN")}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "ydpipelines.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_json_logs_are_one_object_per_line(tmp_path):
    code = "import logging; logging.getLogger('ydp.test').warning('copied %s files', 3)"
    done = python(code, LOG_FORMAT="json", YDP_DATA_DIR=str(tmp_path))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    [entry] = [e for e in lines if e["logger"] == "ydp.test"]
    assert entry["level"] == "WARNING" and entry["message"] == "copied 3 files"
    assert entry["time"].endswith("+00:00")


def test_an_unknown_log_format_is_refused(tmp_path):
    done = python("", LOG_FORMAT="xml", YDP_DATA_DIR=str(tmp_path))
    assert done.returncode != 0 and "LOG_FORMAT='xml'" in done.stderr


def test_log_lines_carry_the_request_id():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("ydp.test.request")
    logger.addHandler(handler)

    def view(request: HttpRequest) -> HttpResponse:
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("view failed")
        return HttpResponse("ok")

    try:
        middleware = RequestIdMiddleware(view)
        given = middleware(RequestFactory().get("/", headers={"X-Request-ID": "req-42"}))
        made = middleware(RequestFactory().get("/", headers={"X-Request-ID": "bad id\n{}"}))
        logger.warning("outside a request")
    finally:
        logger.removeHandler(handler)
    first, second, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert given["X-Request-ID"] == "req-42" and first["request_id"] == "req-42"
    assert "ValueError: boom" in first["exception"]
    # An id that could forge log lines is replaced by one of ours.
    assert made["X-Request-ID"] != "bad id\n{}" and second["request_id"] == made["X-Request-ID"]
    assert "request_id" not in outside


def test_sentry_is_not_imported_without_a_dsn(tmp_path):
    done = python("import sys; print('sentry_sdk' in sys.modules)", YDP_DATA_DIR=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_sentry_reports_with_a_dsn(tmp_path):
    code = (
        "import sentry_sdk; c = sentry_sdk.get_client();"
        "print(c.is_active(), c.options['send_default_pii'], c.options['environment'],"
        " sorted(i for i in c.integrations if i in ('django', 'celery')))"
    )
    # Port 9 of the loopback: nothing is sent anywhere else even if an event were.
    dsn = "http://public@127.0.0.1:9/1"
    done = python(code, SENTRY_DSN=dsn, SENTRY_ENVIRONMENT="staging", YDP_DATA_DIR=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True False staging ['celery', 'django']"
