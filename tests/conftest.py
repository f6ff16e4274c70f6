"""Shared fixtures: the users, and the reference material in ../shared."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import EngineProcess

SHARED = Path(os.environ.get("YDP_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def shared_path(*parts: str) -> Path:
    """A path inside ../shared; skips the test (with the reason) when the folder is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: clone the repo with ../shared beside it to run this test")
    return path


def pytest_configure(config: pytest.Config) -> None:
    # Hundreds of tests create users: the default hasher's 0.6-1 s each is not what they test.
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com", "pw-alice-123")


@pytest.fixture
def auth_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploads and artifacts of a test go to its own folder, never to var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


# -- the embedded engine, a real process (integration tests) ---------------------------------


@pytest.fixture(scope="session")
def engine(tmp_path_factory):
    proc = EngineProcess(tmp_path_factory.mktemp("engine") / "data").start()
    yield proc
    proc.stop()


@pytest.fixture
def argo(settings, engine, live_server):
    """Point the app at the engine, and the steps at the live app."""
    settings.ARGO_SERVER = engine.url
    settings.ARGO_NAMESPACE = "argo"
    settings.ARGO_TIMEOUT_SECONDS = 10
    settings.YDP_PUBLIC_URL = live_server.url
    return engine


# -- Debian's Chromium driven by Playwright (browser tests) ---------------------------------

CHROMIUM = os.environ.get("YDP_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(
    os.environ.get("YDP_SCREENSHOTS", Path(__file__).resolve().parents[2] / "screenshots")
)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent: apt-get install chromium to run the browser tests")
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API keeps an event loop in this thread; the live server's ORM calls
    # from the test body are still synchronous, so Django must not refuse them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server, transactional_db):  # the live server needs a real database
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


@pytest.fixture
def shot():
    """Save a full-page screenshot under screenshots/ (gitignored) and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, *, full_page: bool = False) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
