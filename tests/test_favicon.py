"""Every page names the app's icon, the admin's included (without one, the browser asks for
/favicon.ico and logs a 404), and /favicon.ico itself leads to it for what asks blindly."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static

pytestmark = pytest.mark.django_db
ICON = static("img/favicon.svg")


def test_favicon_ico_leads_to_the_icon_without_a_login(client) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == ICON
    path = finders.find("img/favicon.svg")
    assert path is not None
    with open(path, encoding="utf-8") as icon:
        assert icon.read().startswith("<svg")


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_pages_signed_out_name_the_icon(client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert f'<link rel="icon" type="image/svg+xml" href="{ICON}">' in response.text


@pytest.mark.parametrize("url", ["/pipelines/", "/admin/", "/admin/runs/run/"])
def test_pages_signed_in_name_the_icon(admin_client, url: str) -> None:
    response = admin_client.get(url)
    assert response.status_code == 200
    assert response.text.count('rel="icon"') == 1
    assert f'href="{ICON}"' in response.text
