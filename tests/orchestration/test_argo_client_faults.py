"""Faults the embedded engine cannot make on demand: a server that answers 500, hangs, drops the
connection, or is not there. Everything else is tested against the engine itself."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.orchestration.argo import (
    ArgoAlreadyExists,
    ArgoClient,
    ArgoConfig,
    ArgoError,
    ArgoNotFound,
)


class FaultyHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        mode = self.path.split("/")[-1].split("?")[0]
        if mode == "hang":
            time.sleep(2)
            return
        if mode == "drop":
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        status = {"boom": 500, "busy": 503, "missing": 404, "dup": 409, "bad": 400, "log": 404}[
            mode
        ]
        if mode == "log":  # a log stream's error frame
            body = json.dumps({"error": {"grpc_code": 5, "message": 'pods "x" not found'}})
            body = body.encode()
        else:
            body = json.dumps({"code": 3, "message": f"{mode} happened"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def faulty_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FaultyHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def client_for(url: str) -> ArgoClient:
    return ArgoClient(ArgoConfig(server=url, namespace="argo", timeout=0.5))


@pytest.mark.parametrize(
    ("mode", "error_type", "transient"),
    [
        ("boom", ArgoError, True),
        ("busy", ArgoError, True),
        ("hang", ArgoError, True),
        ("drop", ArgoError, True),
        ("bad", ArgoError, False),
        ("missing", ArgoNotFound, False),
        ("dup", ArgoAlreadyExists, False),
    ],
)
def test_errors_are_classified_transient_or_permanent(faulty_server, mode, error_type, transient):
    with pytest.raises(error_type) as info:
        client_for(faulty_server).get_workflow(mode)
    assert info.value.transient is transient
    if mode in ("boom", "bad", "missing"):
        assert f"{mode} happened" in str(info.value)


def test_a_log_error_frame_gives_its_message(faulty_server):
    with pytest.raises(ArgoNotFound, match='pods "x" not found'):
        client_for(faulty_server).get_workflow("log")


def test_unreachable_server_is_transient_and_says_where():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ArgoError) as info:
        client_for(f"http://127.0.0.1:{port}").version()
    assert info.value.transient
    assert f"127.0.0.1:{port}" in str(info.value)


def test_token_is_sent_as_bearer():
    client = ArgoClient(ArgoConfig(server="http://x", token="abc"))
    assert client.session.headers["Authorization"] == "Bearer abc"
