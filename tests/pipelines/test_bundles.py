"""The signed downloads a running step makes: its version's bundle and the step runner."""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.core.files.base import ContentFile

from apps.pipelines.bundles import bundle_signature, bundle_url, runner_url
from apps.pipelines.models import Pipeline, PipelineVersion


def small_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # Fixed timestamps: the same bytes every call.
        stamp = (2024, 1, 1, 0, 0, 0)
        archive.writestr(zipfile.ZipInfo("hello.pipeline", stamp), '{"doc_type": "pipeline"}')
        archive.writestr(zipfile.ZipInfo("scripts/hello.py", stamp), "print('hello')\n")
    return buffer.getvalue()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def version(media):
    pipeline = Pipeline.objects.create(name="bundled")
    version = PipelineVersion(
        pipeline=pipeline,
        name="v1",
        source_format="elyra",
        source_filename="hello.pipeline",
        manifest={},
        content_hash="0" * 64,
    )
    data = small_zip()
    version.bundle.save("bundle.zip", ContentFile(data), save=False)
    version.bundle_size = len(data)
    version.save()
    return version


def path_of(url: str) -> str:
    assert url.startswith(settings.YDP_PUBLIC_URL + "/")
    return url[len(settings.YDP_PUBLIC_URL) :]


def test_urls_are_absolute_and_signed(settings):
    settings.YDP_PUBLIC_URL = "https://ydp.example.com"
    version_id = uuid.UUID("7d3c0a8e-0000-4000-8000-000000000001")
    url = bundle_url(version_id)
    signature = bundle_signature(version_id)
    assert url == f"https://ydp.example.com/steps/bundles/{version_id}/{signature}/bundle.zip"
    assert bundle_url(str(version_id)) == url
    assert bundle_signature(uuid.uuid4()) != signature
    assert runner_url() == "https://ydp.example.com/steps/steprunner.py"


@pytest.mark.django_db
def test_right_signature_serves_the_bundle_without_login(client, version):
    response = client.get(path_of(bundle_url(version.id)))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    body = b"".join(response.streaming_content)
    assert body == small_zip()
    assert zipfile.ZipFile(io.BytesIO(body)).read("scripts/hello.py") == b"print('hello')\n"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "mangle",
    [
        lambda sig: sig[:-1] + ("A" if sig[-1] != "A" else "B"),  # one character off
        lambda sig: "x",
        lambda sig: bundle_signature(uuid.uuid4()),  # another version's signature
    ],
)
def test_wrong_signature_is_404(client, version, mangle):
    url = path_of(bundle_url(version.id)).replace(
        bundle_signature(version.id), mangle(bundle_signature(version.id))
    )
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_unknown_version_with_valid_signature_is_404(client, media):
    assert client.get(path_of(bundle_url(uuid.uuid4()))).status_code == 404


@pytest.mark.django_db
def test_missing_bundle_file_is_404(client, version):
    Path(version.bundle.path).unlink()
    assert client.get(path_of(bundle_url(version.id))).status_code == 404


@pytest.mark.django_db
def test_only_get_and_head(client, version):
    url = path_of(bundle_url(version.id))
    assert client.post(url).status_code == 405
    assert client.put(url).status_code == 405
    head = client.head(url)
    assert head.status_code == 200
    assert int(head["Content-Length"]) == len(small_zip())


@pytest.mark.django_db
def test_steprunner_is_served_without_login(client):
    response = client.get(path_of(runner_url()))
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body == (Path(settings.BASE_DIR) / "ydpipelines" / "steprunner.py").read_bytes()
    assert response["Content-Type"].startswith("text/x-python")


@pytest.mark.django_db
def test_other_pages_still_need_a_login(client):
    response = client.get("/pipelines/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.django_db(transaction=True)
def test_a_step_downloads_both_over_http(live_server, settings, version):
    """What a pod does: plain HTTP GETs of the URLs in the manifest, no cookies."""
    settings.YDP_PUBLIC_URL = live_server.url
    response = requests.get(bundle_url(version.id), timeout=10)
    assert response.status_code == 200
    assert response.content == small_zip()
    runner = requests.get(runner_url(), timeout=10)
    assert runner.status_code == 200
    assert b"def " in runner.content
    bad = requests.get(bundle_url(version.id).replace("/bundle.zip", "x/bundle.zip"), timeout=10)
    assert bad.status_code == 404
