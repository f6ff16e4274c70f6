"""An upload over YDP_MAX_UPLOAD_BYTES is refused while it arrives: the form says so, nothing is
stored, and a large body is not spooled to disk first."""

from __future__ import annotations

import io
import re
import time

import pytest
import requests
from django.urls import reverse

from apps.pipelines.models import Pipeline, PipelineVersion
from apps.pipelines.uploads import too_large_message

MIB = 1024 * 1024


def test_the_message_names_the_cap():
    assert too_large_message(32 * MIB) == "file too large (max 32 MiB)"
    assert too_large_message(1000) == "file too large (max 1,000 bytes)"


@pytest.mark.django_db
def test_a_file_over_the_cap_is_refused_on_the_form(auth_client, settings, tmp_path):
    settings.YDP_MAX_UPLOAD_BYTES = MIB
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    upload = io.BytesIO(b"a: 1\n" * (MIB // 5 + 10))
    upload.name = "big.yaml"
    response = auth_client.post(
        reverse("pipelines:upload"),
        {"target": "new", "name": "big", "version_name": "", "description": "", "file": upload},
    )
    assert response.status_code == 200
    assert "file too large (max 1 MiB)" in response.content.decode()
    assert 'value="big"' in response.content.decode()  # the fields before the file survive
    assert not Pipeline.objects.exists() and not PipelineVersion.objects.exists()
    assert list(tmp_path.iterdir()) == []  # nothing spooled


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
def test_a_streamed_body_over_the_cap_is_refused_quickly(live_server, user, settings):
    settings.YDP_MAX_UPLOAD_BYTES = MIB
    session = requests.Session()
    login = live_server.url + reverse("login")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', session.get(login).text)[1]
    session.post(
        login,
        {"username": "alice", "password": "pw-alice-123", "csrfmiddlewaretoken": token},
        headers={"Referer": login},
    )
    upload = live_server.url + reverse("pipelines:upload")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', session.get(upload).text)[1]
    boundary = "ydpboundary"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
        f"{token}\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="target"\r\n\r\nnew\r\n'
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="name"\r\n\r\nhuge\r\n'
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="huge.yaml"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    chunk = b"a: 1\n" * (MIB // 5)
    chunks = 256  # about 256 MiB, streamed: it never exists in the test's memory

    def body():
        yield head
        for _ in range(chunks):
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    started = time.monotonic()
    try:
        response = session.post(
            upload,
            data=body(),
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Referer": upload,
                # Declared, as a browser does: the handler refuses at the file's first byte.
                "Content-Length": str(len(head) + len(chunk) * chunks + len(boundary) + 8),
            },
            timeout=30,
        )
    except requests.ConnectionError:
        response = None  # the server may close the connection before the body is sent
    elapsed = time.monotonic() - started
    if response is not None:
        assert response.status_code == 200
        assert "file too large (max 1 MiB)" in response.text
    assert elapsed < 10, elapsed
    assert not Pipeline.objects.exists() and not PipelineVersion.objects.exists()
