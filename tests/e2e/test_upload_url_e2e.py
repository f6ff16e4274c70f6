"""Upload by URL in a real Chromium: the URL field, a refusal shown under it, and a version made
from a file the server fetched from a local test server (its origin allowed for tests only)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from apps.pipelines.models import PipelineVersion
from tests.e2e.test_pipelines_e2e import PASSWORD, sign_in
from tests.experiments.builders import closed_port_url
from tests.pipelines.test_upload_url import Handler, QuietServer, serve

pytestmark = pytest.mark.e2e
expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def origin(settings, tmp_path: Path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ARGO_SERVER = closed_port_url()
    served = serve(QuietServer(("127.0.0.1", 0), Handler))
    server = next(served)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.YDP_URL_UPLOAD_TEST_ORIGINS = [url]
    yield url
    next(served, None)


@pytest.fixture
def newcomer(django_user_model):
    return django_user_model.objects.create_user("dana", "dana@example.com", PASSWORD)


def test_upload_from_a_url(page, live_server, newcomer, origin, shot):
    sign_in(page, live_server, "dana", PASSWORD)
    page.goto(live_server.url + "/pipelines/upload/")
    page.fill("#id_name", "from-a-link")

    page.fill("#id_url", "https://10.0.0.8/hello.pipeline")
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".field.has-error")).to_contain_text("is a private address")
    shot(page, "15-upload-url-private-refused")
    assert not PipelineVersion.objects.exists()

    page.fill("#id_url", f"{origin}/customer-churn.pipeline")
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r"/versions/"))
    expect(page.locator(".alert-success, [role=status]").first).to_contain_text("from-a-link")
    version = PipelineVersion.objects.get()
    assert version.source_filename == "customer-churn.pipeline"
    assert version.node_count == 4
    assert page.js_errors == []
