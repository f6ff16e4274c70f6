"""Upload by URL: every refusal (http, private and loopback hosts, a redirect to one, too big,
too slow, 404) and the way through, against a real local HTTP server.

A local server cannot be https on a public address, so the tests name its origin in
YDP_URL_UPLOAD_TEST_ORIGINS, which exempts exactly that origin from the https and public-address
rules; the rules themselves are tested on other URLs (refused before any connection) and on
redirects from the test server to loopback."""

from __future__ import annotations

import io
import shutil
import ssl
import subprocess
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.urls import reverse

from apps.pipelines import url_fetch
from apps.pipelines.models import Pipeline, PipelineVersion
from tests.experiments.builders import closed_port_url

# The repository's own demo, so that these tests need nothing from ../shared.
DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
PIPELINE = DEMO / "customer-churn.pipeline"


def _zip_without(leave_out: str) -> bytes:
    folder = DEMO
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for item in sorted(folder.rglob("*")):
            if item.is_file() and item.name != leave_out and "__pycache__" not in item.parts:
                archive.write(item, f"{folder.name}/{item.relative_to(folder)}")
    return buffer.getvalue()


class Handler(BaseHTTPRequestHandler):
    """Routes by path; `self.server.redirect_to` is where /redirect-away points."""

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass

    def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path
        if path == "/customer-churn.pipeline":
            self._send(200, PIPELINE.read_bytes())
        elif path == "/download?id=7":
            self._send(
                200,
                _zip_without("train_model.ipynb"),
                Content_Disposition='attachment; filename="hello.zip"',
            )
        elif path == "/redirect-here":
            self._send(302, Location="/customer-churn.pipeline")
        elif path == "/redirect-away":
            self._send(302, Location=self.server.redirect_to)  # type: ignore[attr-defined]
        elif path == "/redirect-loop":
            self._send(302, Location="/redirect-loop")
        elif path == "/big.pipeline":
            self._send(200, b"{" + b" " * 4096 + b"}")
        elif path == "/big-unsized.pipeline":
            # No Content-Length: the cap must hold while reading.
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            for _ in range(64):
                self.wfile.write(b" " * 1024)
        elif path == "/slow.pipeline":
            time.sleep(2.5)
            self._send(200, PIPELINE.read_bytes())
        elif path == "/drip.pipeline":
            # Each byte comes well within any per-read timeout; the whole takes too long.
            body = PIPELINE.read_bytes()[:12]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for byte in body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.25)
        else:
            self._send(404, b"not here")


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client hanging up on /slow is the point of that test


def serve(server: ThreadingHTTPServer) -> Iterator[ThreadingHTTPServer]:
    server.redirect_to = ""  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    yield from serve(QuietServer(("127.0.0.1", 0), Handler))


@pytest.fixture
def origin(server: ThreadingHTTPServer, settings) -> str:
    url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.YDP_URL_UPLOAD_TEST_ORIGINS = [url]
    settings.YDP_URL_UPLOAD_TIMEOUT_SECONDS = 1.5
    return url


def _refused(url: str) -> str:
    with pytest.raises(url_fetch.FetchError) as info:
        url_fetch.fetch(url)
    return str(info.value)


# ---------------------------------------------------------------- the rules, unit by unit


@pytest.mark.parametrize(
    "url",
    ["http://example.com/p.pipeline", "ftp://example.com/p.pipeline", "file:///etc/passwd"],
)
def test_only_https_is_accepted(url: str) -> None:
    assert "only https:// URLs are accepted" in _refused(url)


def test_credentials_in_the_url_are_refused() -> None:
    assert "user name or password" in _refused("https://me:secret@example.com/p.pipeline")


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://127.0.0.1/p.pipeline", "loopback"),
        ("https://localhost:8443/p.pipeline", "loopback"),
        ("https://[::1]/p.pipeline", "loopback"),
        ("https://[::ffff:127.0.0.1]/p.pipeline", "loopback"),
        ("https://[64:ff9b::7f00:1]/p.pipeline", "loopback"),
        ("https://[2002:a00:1::]/p.pipeline", "private"),
        ("https://10.1.2.3/p.pipeline", "private"),
        ("https://192.168.0.10/p.pipeline", "private"),
        ("https://172.16.5.5/p.pipeline", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[fe80::1]/p.pipeline", "link-local"),
        ("https://0.0.0.0/p.pipeline", "unspecified"),
        ("https://100.64.0.1/p.pipeline", "non-public"),
    ],
)
def test_non_public_hosts_are_refused_before_connecting(url: str, kind: str) -> None:
    message = _refused(url)
    assert f"is a {kind} address; only public hosts are fetched" in message
    assert url in message


def test_a_public_address_passes_the_check() -> None:
    # An address literal: no DNS needed. The check alone, no connection.
    assert url_fetch.public_addresses("93.184.215.14", 443, "https://93.184.215.14/") == [
        "93.184.215.14"
    ]


def test_an_unresolvable_host_is_named() -> None:
    assert "cannot be resolved" in _refused("https://no-such-host.invalid/p.pipeline")


def test_the_test_origin_exempts_only_itself(origin: str, server) -> None:
    port = server.server_address[1]
    assert "only https://" in _refused(f"http://127.0.0.1:{port + 1}/p.pipeline")
    assert "loopback" in _refused(f"https://127.0.0.1:{port}/p.pipeline")


# ---------------------------------------------------------------- against the local server


def test_fetch_returns_the_file_and_its_name(origin: str) -> None:
    fetched = url_fetch.fetch(f"{origin}/customer-churn.pipeline")
    assert fetched.filename == "customer-churn.pipeline"
    assert fetched.data == PIPELINE.read_bytes()


def test_content_disposition_names_the_file(origin: str) -> None:
    fetched = url_fetch.fetch(f"{origin}/download?id=7")
    assert fetched.filename == "hello.zip"
    assert fetched.data[:2] == b"PK"


def test_a_redirect_to_an_allowed_origin_is_followed(origin: str) -> None:
    fetched = url_fetch.fetch(f"{origin}/redirect-here")
    assert fetched.url == f"{origin}/customer-churn.pipeline"


def test_a_redirect_to_loopback_is_refused_naming_the_redirect(origin: str, server) -> None:
    # An https URL on 127.0.0.1 where nothing listens: refused before any connection is tried.
    server.redirect_to = "https://127.0.0.1:9/p.pipeline"
    message = _refused(f"{origin}/redirect-away")
    assert message == (
        f"“{origin}/redirect-away” redirects to “https://127.0.0.1:9/p.pipeline”: the host "
        "127.0.0.1 is a loopback address; only public hosts are fetched."
    )


def test_a_redirect_to_a_private_address_or_http_is_refused(origin: str, server) -> None:
    server.redirect_to = "https://10.0.0.8/p.pipeline"
    assert "redirects to “https://10.0.0.8/p.pipeline”: the host 10.0.0.8 is a private" in (
        _refused(f"{origin}/redirect-away")
    )
    server.redirect_to = "http://example.com/p.pipeline"
    assert "redirects to “http://example.com/p.pipeline”: only https://" in _refused(
        f"{origin}/redirect-away"
    )


def test_endless_redirects_are_cut(origin: str) -> None:
    assert f"redirects more than {url_fetch.MAX_REDIRECTS} times" in _refused(
        f"{origin}/redirect-loop"
    )


def test_404_is_named(origin: str) -> None:
    assert _refused(f"{origin}/nothing.pipeline") == (
        f"“{origin}/nothing.pipeline” answered 404 Not Found: no file to upload."
    )


def test_too_big_by_its_content_length(origin: str, settings) -> None:
    settings.YDP_MAX_UPLOAD_BYTES = 1024
    assert "larger than the upload limit (1.0\xa0KB)" in _refused(f"{origin}/big.pipeline")


def test_too_big_while_reading_without_a_content_length(origin: str, settings) -> None:
    settings.YDP_MAX_UPLOAD_BYTES = 8 * 1024
    assert "larger than the upload limit" in _refused(f"{origin}/big-unsized.pipeline")


def test_a_server_that_does_not_answer_in_time(origin: str) -> None:
    started = time.monotonic()
    assert "did not deliver the file within 1.5 seconds" in _refused(f"{origin}/slow.pipeline")
    assert time.monotonic() - started < 2.4


def test_a_server_that_drips_is_stopped_at_the_deadline(origin: str) -> None:
    started = time.monotonic()
    assert "did not deliver the file within 1.5 seconds" in _refused(f"{origin}/drip.pipeline")
    assert time.monotonic() - started < 2.4


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_https_certificates_are_verified(tmp_path: Path, settings) -> None:
    # A real TLS server with a self-signed certificate: the fetch refuses it.
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    served = serve(httpd)
    next(served)
    try:
        url = f"https://127.0.0.1:{httpd.server_address[1]}"
        settings.YDP_URL_UPLOAD_TEST_ORIGINS = [url]
        message = _refused(f"{url}/customer-churn.pipeline")
        assert "the TLS connection failed (CERTIFICATE_VERIFY_FAILED)" in message
    finally:
        next(served, None)


# ---------------------------------------------------------------- through the upload form


def _post(client, **fields: str):
    payload = {"target": "new", "name": "", "version_name": "", "description": "", **fields}
    return client.post(reverse("pipelines:upload"), payload)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    # The engine check of an upload meets a closed port, not whatever listens on the default one.
    settings.ARGO_SERVER = closed_port_url()


@pytest.mark.django_db
def test_upload_by_url_makes_the_version(auth_client, origin: str) -> None:
    response = _post(auth_client, name="hello", url=f"{origin}/customer-churn.pipeline")
    assert response.status_code == 302, response.content.decode()[:2000]
    version = PipelineVersion.objects.get()
    assert version.pipeline.name == "hello"
    assert version.source_filename == "customer-churn.pipeline"
    assert version.node_count == 4


@pytest.mark.django_db
def test_upload_by_url_refusals_show_under_the_url_field(auth_client, origin: str) -> None:
    for url, expected in [
        ("http://example.com/p.pipeline", "only https:// URLs are accepted"),
        ("https://192.168.1.1/p.pipeline", "is a private address"),
        (f"{origin}/nothing.pipeline", "answered 404 Not Found"),
    ]:
        response = _post(auth_client, name="hello", url=url)
        assert response.status_code == 200
        errors = response.context["form"].errors["url"]
        assert expected in errors[0], errors
        assert expected in response.content.decode().replace("&#x27;", "'")
    assert not Pipeline.objects.exists()


@pytest.mark.django_db
def test_file_or_url_not_both(auth_client, origin: str) -> None:
    upload = io.BytesIO(PIPELINE.read_bytes())
    upload.name = PIPELINE.name
    response = auth_client.post(
        reverse("pipelines:upload"),
        {"target": "new", "name": "x", "url": f"{origin}/a.pipeline", "file": upload},
    )
    assert response.context["form"].errors["url"] == ["Choose a file or give a URL, not both."]
    response = _post(auth_client, name="x")
    assert response.context["form"].errors["file"] == [
        "Choose a pipeline file, or give its URL below."
    ]
    assert not Pipeline.objects.exists()


@pytest.mark.django_db
def test_url_zip_lacking_a_file_then_upload_anyway(auth_client, origin: str) -> None:
    url = f"{origin}/download?id=7"
    response = _post(auth_client, name="hello", url=url)
    assert response.context["missing"] == ["train_model.ipynb"]
    page = response.content.decode()
    assert "<code>train_model.ipynb</code>" in page
    assert "choose the file again" not in page  # the URL is kept in its field
    assert not Pipeline.objects.exists()
    response = _post(auth_client, name="hello", url=url, allow_missing="on")
    assert response.status_code == 302
    page = auth_client.get(response["Location"]).content.decode()
    assert "1 file the nodes use was not uploaded" in page
