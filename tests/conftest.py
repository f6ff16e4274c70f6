"""Shared fixtures: the users, and the reference material in ../shared."""

import os
import shutil
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests import cpu_report, databases, flushing
from tests.processes import EngineProcess, clear_redis

SHARED = Path(os.environ.get("YDP_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def shared_path(*parts: str) -> Path:
    """A path inside ../shared; skips the test (with the reason) when the folder is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: clone the repo with ../shared beside it to run this test")
    return path


def pytest_configure(config: pytest.Config) -> None:
    # Hundreds of tests create users: the default hasher's 0.6-1 s each is not what they test.
    # The app's processes a test starts get the same list (app_env: YDP_PASSWORD_HASHERS).
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    isolate_redis(settings)
    flushing.install()
    cpu_report.configure(config)


def isolate_redis(settings) -> None:
    """Give this session (each xdist worker, each `make test` beside another) Redis keys of its
    own: a prefix on every broker and cache key, and in the environment the app's processes
    inherit (app_env). Runs before anything connected, so the broker pool and cache take it."""
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    prefix = f"ydp-test-{worker}-{uuid.uuid4().hex[:8]}:"
    os.environ["YDP_REDIS_PREFIX"] = settings.YDP_REDIS_PREFIX = prefix
    settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = prefix
    settings.CACHES["default"]["KEY_PREFIX"] = prefix


def pytest_unconfigure(config: pytest.Config) -> None:
    from django.conf import settings

    if getattr(settings, "YDP_REDIS_PREFIX", "").startswith("ydp-test-"):
        clear_redis(settings)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database-tests-only",
        action="store_true",
        help="deselect the tests that never touch the database (make test's SQLite pass: the "
        "engine, the step runner, pure functions ran on PostgreSQL already)",
    )
    cpu_report.add_option(parser)


# A test that reaches the database asks for one of these (live_server takes transactional_db
# for its test); pytest-django refuses the database to any other test.
DATABASE_FIXTURES = {"django_db_setup", "live_server"}


def uses_database(item: pytest.Item) -> bool:
    """True when the test can reach the test database: by a fixture (directly or through
    another fixture) or the django_db mark. A test that works on a database of its own in a
    subprocess says so with the `database` mark."""
    names = set(getattr(item, "fixturenames", ()))
    return bool(
        names & DATABASE_FIXTURES
        or item.get_closest_marker("django_db")
        or item.get_closest_marker("database")
    )


def runs_on_every_database(item: pytest.Item) -> bool:
    """What --database-tests-only keeps: the tests that reach the database, less those marked
    `any_database` (the database only keeps the run; what they check is the engine's)."""
    return uses_database(item) and not item.get_closest_marker("any_database")


def shares_a_fixture(item: pytest.Item) -> bool:
    """A test that uses a module-, class- or package-wide fixture of ours (pytest-django's
    autouse class fixture is in every test: not a reason to keep a module together)."""
    info = getattr(item, "_fixtureinfo", None)
    for defs in info.name2fixturedefs.values() if info else ():
        fixture = defs[-1] if defs else None
        ours = fixture and getattr(fixture.func, "__module__", "").startswith("tests.")
        if ours and fixture.scope in ("module", "class", "package"):
            return True
    return False


def name_groups(grouped: set[pytest.Item]) -> None:
    """What xdist's worker does for --dist loadgroup, for pytest 9: the test's id gets its
    group after an @, by which the scheduler keeps a group on one worker. xdist 3.8 sets
    `_nodeid`, which pytest 9 no longer reads (its id is `_id`), so every test went alone."""
    from _pytest.nodeid import NodeId

    for item in grouped:
        if "@" not in item.nodeid and isinstance(getattr(item, "_id", None), NodeId):
            named = f"{item.nodeid}@{item.module.__name__}"
            if str(NodeId.parse(named)) == named:
                item._id = NodeId.parse(named)


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> Generator[None, None, None]:
    """Under xdist (`make test`: --dist loadgroup) tests spread over the workers one by one,
    except those of a module that share a module- or class-wide fixture (an engine of their
    own, a built image): those stay on one worker, so that fixture starts once. A wrapper:
    xdist's own hook reads the group marks, and pytest-django's sorts the tests, in between."""
    if config.getoption("--database-tests-only"):
        deselected = [item for item in items if not runs_on_every_database(item)]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = [item for item in items if runs_on_every_database(item)]
    grouped = {item for item in items if shares_a_fixture(item)}
    for item in grouped:
        item.add_marker(pytest.mark.xdist_group(item.module.__name__))
    yield
    if getattr(config.option, "loadgroup", False):  # set in xdist workers only
        name_groups(grouped)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # The workers take the tests in this order (Makefile: --no-loadscope-reorder): the
        # slow ones first, then the browser ones, then the groups, then the rest, so that no
        # long test starts last and finishes the run alone. One process keeps the files' order.
        def late(item: pytest.Item) -> tuple[bool, bool, bool]:
            marked = item.get_closest_marker
            return not marked("slow"), not marked("e2e"), item not in grouped

        items.sort(key=late)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, request) -> None:
    """pytest-django's, then under xdist each worker's test database is a copy of one the run
    migrated once (tests/databases.py), not migrated anew in every worker."""
    worker = getattr(request.config, "workerinput", {}).get("workerid")
    if worker:
        from django.db import connections

        shared = request.config._tmp_path_factory.getbasetemp().parent
        databases.clone_from_template(connections["default"], worker=worker, shared=shared)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The controller of an xdist run drops the template database its workers cloned."""
    config = session.config
    if hasattr(config, "workerinput") or not config.pluginmanager.has_plugin("dsession"):
        return
    from django.db import connections
    from pytest_django.plugin import blocking_manager_key

    with config.stash[blocking_manager_key].unblock():
        databases.drop_template(connections["default"], config._tmp_path_factory.getbasetemp())


@pytest.fixture(autouse=True)
def default_project_members(request):
    """Every user a test creates is an owner of the Default project, where objects made
    without naming a project go (apps.projects.models.default_project): the tests of each area
    need not set up projects. Tests of the sharing rule take memberships away themselves."""
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_save

    def join(sender, instance, created, raw=False, **kwargs):
        if not created or raw:
            return
        from apps.projects.models import Membership, default_project

        Membership.objects.get_or_create(
            project_id=default_project(), user=instance, defaults={"role": "owner"}
        )

    post_save.connect(join, sender=get_user_model(), dispatch_uid="tests.default_project")
    yield
    post_save.disconnect(sender=get_user_model(), dispatch_uid="tests.default_project")


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
def engine(tmp_path_factory) -> Iterator[EngineProcess]:
    """The one engine of a test session (of each xdist worker), shared by the engine's own
    tests and the app's. --cron-seconds lets a test's schedule fire every second (a 6-field
    cron, seconds last) instead of waiting for a real minute."""
    proc = EngineProcess(tmp_path_factory.mktemp("engine") / "data", extra=["--cron-seconds"])
    yield proc.start()
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

# Debian's headless shell (chromium-headless-shell, scripts/setup.sh): the same Blink and V8
# without the full browser's UI layer, about 40% less Chromium CPU per page than `chromium
# --headless` (README, What a test costs). The full browser when the shell is absent.
HEADLESS_SHELL = "/usr/bin/chromium-headless-shell"
CHROMIUM = os.environ.get("YDP_CHROMIUM") or (
    HEADLESS_SHELL if Path(HEADLESS_SHELL).exists() else "/usr/bin/chromium"
)
SCREENSHOTS = Path(
    os.environ.get("YDP_SCREENSHOTS", Path(__file__).resolve().parents[2] / "screenshots")
)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.skip(
            f"{CHROMIUM} is absent: apt-get install chromium-headless-shell to run the browser"
            " tests"
        )
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API keeps an event loop in this thread; the live server's ORM calls
    # from the test body are still synchronous, so Django must not refuse them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            # No site isolation: a sandboxed frame (an HTML artifact) or another site no
            # longer gets a renderer process of its own; the frames' origins and sandboxes
            # are Blink's to enforce in any process. About 14% of the page loads' Chromium CPU.
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-site-isolation-trials",
            ],
        )
        yield browser
        browser.close()


def new_context(browser) -> object:
    """A fresh browser context (its own cookies and cache) as every browser test gets one.
    Reduced motion: the app's CSS then turns its animations and transitions off (app.css), and
    headless Chromium stops painting a pulsing running step 60 times a second: the three tests
    that watch a run live spent most of their Chromium CPU on that (64 -> 23 CPU-s, README)."""
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="en-US", reduced_motion="reduce"
    )
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
def page(browser, live_server, transactional_db):  # the live server needs a real database
    context = new_context(browser)
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
