"""The web process that `make run` starts (the launcher's web command) does not name Python's
version in its Server header."""

from __future__ import annotations

import os

import pytest
import requests

from tests.processes import ChildProcess, free_port, wait_for_http
from ydpipelines.launcher import ROOT, commands


@pytest.mark.timeout(60)
def test_the_launched_web_process_sends_a_neutral_server_header(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "DJANGO_SETTINGS_MODULE": "ydpipelines.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "YDP_DATA_DIR": str(tmp_path / "var"),
    }
    web = ChildProcess(tmp_path / "web.log")
    # The launcher's command line, run from the project folder as the launcher does.
    web.spawn(["/bin/sh", "-c", 'cd "$0" && exec "$@"', str(ROOT), *commands(env)["web"]], env=env)
    try:
        url = f"http://127.0.0.1:{port}/accounts/login/"
        wait_for_http(url)
        for path in ("/accounts/login/", "/pipelines/", "/no-such-page/", "/static/css/app.css"):
            server = requests.get(f"http://127.0.0.1:{port}{path}", timeout=10).headers["Server"]
            assert "python" not in server.lower() and "wsgiserver" not in server.lower(), server
            assert server == "ydpipelines"
    finally:
        web.stop()
