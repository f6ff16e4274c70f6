"""Fixtures of the security tests: DEBUG on and off as `make run` and production have it, and
a browser signed in as a superuser whose script sentinel and canary requests are watched."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import pytest
from django.test import Client
from django.urls import clear_url_caches

from tests.conftest import new_context

# Runs before any page script in every frame: records CSP violations the page reports.
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sourceFile || ''));
});
"""


def _reload_urls() -> None:
    # urls.py reads settings.DEBUG when it is imported, as in `make run`: import it again.
    import ydpipelines.urls

    importlib.reload(ydpipelines.urls)
    clear_url_caches()


@pytest.fixture(params=[True, False], ids=["debug", "nodebug"])
def debug_mode(request, settings) -> Iterator[bool]:
    settings.DEBUG = request.param
    _reload_urls()
    yield request.param
    settings.DEBUG = False
    _reload_urls()


@pytest.fixture
def no_harness_media(live_server) -> Iterator[None]:
    """Django's live server thread serves MEDIA_ROOT at MEDIA_URL by itself, whatever the app's
    URLs say (LiveServerThread wraps the app in a _MediaFilesHandler). Point that handler at a
    foreign host so it steps aside, and the app's own answer for /media/ is what is tested."""
    media = live_server.thread.httpd.get_app().application
    saved = media.base_url
    media.base_url = urlparse("http://harness.invalid/media/")
    yield
    media.base_url = saved


@dataclass
class Watched:
    """A signed-in page plus what it saw: canary requests, console errors, CSP violations."""

    page: Any
    base: str
    canary: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path

    def violations(self) -> list[str]:
        return self.page.evaluate("window.__csp || []")


@pytest.fixture
def watched(
    browser, live_server, no_harness_media, transactional_db, django_user_model
) -> Iterator[Watched]:
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    client = Client()
    client.force_login(admin)
    context = new_context(browser)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    context.add_init_script(WATCH_CSP)
    seen = Watched(page=None, base=live_server.url)

    # Seen as requests, not routed: any route turns Chromium's HTTP cache off for the context, so
    # every page would fetch and compile its scripts (ECharts, the admin's) anew. A canary
    # request is a failure whatever answers it (the live server: 404, or nothing on port 9).
    def canary(request) -> None:
        if "/canary/" in request.url:
            seen.canary.append(f"{request.url} (from {request.frame.url})")

    context.on("request", canary)
    page = context.new_page()

    def console(msg) -> None:
        if msg.type == "error":
            seen.console.append(f"{page.url}: {msg.text}")

    page.on("console", console)
    page.on("pageerror", lambda error: seen.console.append(f"{page.url}: {error}"))
    seen.page = page
    yield seen
    context.close()
