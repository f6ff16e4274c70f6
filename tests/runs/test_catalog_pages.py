"""Keyset pages of the Executions and Artifacts lists: Next walks every row exactly once (ties
on the sort value, nulls last), Previous walks back the same rows, and a bad or stale cursor
gives the first page with a notice, never an error."""

from __future__ import annotations

import base64
import html
import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.runs.catalog_pages import BAD_CURSOR
from apps.runs.constants import ArtifactKind, StepPhase
from apps.runs.queries import Cursor
from tests.experiments.builders import make_experiment, make_run, make_step, make_version
from tests.runs.test_catalog_filters import add_artifact

pytestmark = pytest.mark.django_db
ARTIFACTS = reverse("artifacts:list")
EXECUTIONS = reverse("executions:list")
ROWS = 27  # not a multiple of the page size: a short last page


def _link(body: str, rel: str) -> str | None:
    match = re.search(rf'<a href="([^"]+)" hx-get="[^"]+" rel="{rel}"', body)
    return html.unescape(match.group(1)) if match else None


def _walk(client, url: str, pattern: str) -> tuple[list[str], list[str]]:
    """Every row's key following Next from `url`, then following Previous back from the last
    page (each page's rows in list order, pages from last to first)."""
    forward, pages = [], []
    while url:
        body = client.get(url).content.decode()
        assert BAD_CURSOR not in body
        rows = re.findall(pattern, body)
        assert rows, url
        forward += rows
        pages.append(body)
        url = _link(body, "next")
    backward: list[str] = []
    url = _link(pages[-1], "prev")
    while url:
        body = client.get(url).content.decode()
        backward = re.findall(pattern, body) + backward
        url = _link(body, "prev")
    return forward, backward


@pytest.fixture
def run():
    return make_run(make_version("churn", "v7"), make_experiment("alpha"), name="nightly")


@pytest.fixture
def steps(run):
    """ROWS steps whose start and duration repeat (3 values each: ties), 4 not started."""
    base = timezone.now() - timedelta(hours=2)
    for n in range(ROWS):
        started = None if n % 7 == 3 else base + timedelta(minutes=n % 3)
        finished = started + timedelta(seconds=10 * (n % 3)) if started and n % 5 else None
        make_step(run, f"s{n:02d}", StepPhase.SUCCEEDED, started_at=started, finished_at=finished)


@pytest.mark.parametrize("sort", ["", "started", "-duration", "duration"])
def test_execution_pages_walk_every_row_once(auth_client, steps, sort):
    forward, backward = _walk(
        auth_client, f"{EXECUTIONS}?size=10&sort={sort}", r'\?node=(s\d\d)" title'
    )
    assert sorted(forward) == [f"s{n:02d}" for n in range(ROWS)]  # no gap, no duplicate
    assert backward == forward[: len(backward)] and len(backward) == 20  # all but the last page


@pytest.mark.parametrize("sort", ["", "created", "-size", "size", "name", "-name"])
def test_artifact_pages_walk_every_row_once(auth_client, run, sort):
    step = make_step(run, "train", StepPhase.SUCCEEDED)
    moment = timezone.now()
    for n in range(ROWS):
        artifact = add_artifact(run, step, f"a{n % 4}", ArtifactKind.FILE, size=100 * (n % 3))
        # Ties on the creation time too (auto_now_add would make them all distinct).
        type(artifact).objects.filter(pk=artifact.pk).update(created_at=moment)
    pattern = r'<a href="/artifacts/(\d+)/"'
    forward, backward = _walk(auth_client, f"{ARTIFACTS}?size=10&sort={sort}", pattern)
    assert len(forward) == len(set(forward)) == ROWS
    assert backward == forward[:20]


def _token(value, row_id) -> str:
    raw = json.dumps([value, row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "query",
    [
        "after=not-a-cursor",
        "page=3",  # an OFFSET page's link, from before the keyset pages
        "before=%%%",
        f"after={_token('yesterday', 5)}",  # a text where a time is compared
        f"after={_token(3, 'x')}",  # not an integer id
        f"after={_token({'t': '2026-01-01T00:00:00'}, 5)}",  # a time without its zone
        # Artifacts only: sizes, never null, where a time or a null is given.
        f"sort=-size&after={_token({'t': '2026-01-01T00:00:00+00:00'}, 5)}",
        f"sort=-size&after={_token(None, 5)}",
    ],
)
def test_bad_cursor_gives_the_first_page(auth_client, run, query):
    step = make_step(run, "train", StepPhase.SUCCEEDED)
    for n in range(3):
        add_artifact(run, step, f"f{n}", ArtifactKind.FILE)
    for url in (ARTIFACTS,) if "size" in query else (ARTIFACTS, EXECUTIONS):
        response = auth_client.get(f"{url}?{query}")
        assert response.status_code == 200
        body = response.content.decode()
        assert BAD_CURSOR in body and 'rel="prev"' not in body
    assert ">f0<" in auth_client.get(f"{ARTIFACTS}?{query}").content.decode()


def test_stale_cursor_still_pages(auth_client, run, steps):
    """The row a cursor names was deleted: the page after its place is still right."""
    body = auth_client.get(f"{EXECUTIONS}?size=10").content.decode()
    last = re.findall(r'\?node=(s\d\d)" title', body)[-1]
    run.steps.filter(display_name=last).delete()
    body = auth_client.get(_link(body, "next")).content.decode()
    assert BAD_CURSOR not in body and len(re.findall(r'\?node=(s\d\d)" title', body)) == 10


def test_cursor_past_the_end_gives_the_first_page(auth_client, run, steps):
    """Every row after the cursor was deleted since: the first page and the notice."""
    body = auth_client.get(f"{EXECUTIONS}?size=10").content.decode()
    url = _link(body, "next")
    run.steps.exclude(display_name__in=re.findall(r'\?node=(s\d\d)" title', body)).delete()
    body = auth_client.get(url).content.decode()
    assert BAD_CURSOR in body and "No executions" not in body
    assert re.findall(r'\?node=(s\d\d)" title', body)


def test_cursor_round_trip_keeps_integer_ids():
    from apps.runs.queries import int_id

    token = Cursor(timedelta(seconds=5), 42).encode()
    assert Cursor.decode(token, None, parse_id=int_id) == Cursor(timedelta(seconds=5), 42)
    assert Cursor.decode(token, None) is None  # the runs list wants a UUID


@pytest.mark.parametrize("query", ["page=1", "page=", "size=10&page=1"])
def test_first_page_links_of_the_offset_pages_need_no_notice(auth_client, run, steps, query):
    for url in (ARTIFACTS, EXECUTIONS):
        response = auth_client.get(f"{url}?{query}")
        assert response.status_code == 200
        assert BAD_CURSOR not in response.content.decode()
