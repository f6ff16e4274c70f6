"""The runs list, and an experiment's page (the same table), poll their table while a run on the
page is active: same filters, sort and cursor, no URL push, 286 once nothing on the page is
active; the poll's query count is fixed."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from apps.runs.constants import RunState
from apps.runs.models import Run
from tests.experiments.builders import make_experiment, make_run, make_version

pytestmark = pytest.mark.django_db
LIST = reverse("runs:list")
HX = {"HX-Request": "true"}


def poll_url(body: str) -> str | None:
    poll = r'<div hidden data-run-poll hx-get="([^"]+)" hx-trigger="every 2s, ydp-push"'
    match = re.search(poll, body)
    return html.unescape(match.group(1)) if match else None


@pytest.fixture
def experiment():
    return make_experiment("exp")


@pytest.fixture
def runs(experiment):
    version = make_version()
    return [
        make_run(version, experiment, state=state, name=f"run {i}")
        for i, state in enumerate([RunState.SUCCEEDED, RunState.RUNNING, RunState.FAILED] * 5)
    ]


@pytest.fixture(params=["runs list", "experiment page"])
def where(request, experiment) -> str:
    """The page: the runs list, or the experiment's page (its queries: one more, the experiment)."""
    return LIST if request.param == "runs list" else experiment.get_absolute_url()


def test_a_page_with_an_active_run_polls_with_its_filters_sort_and_cursor(auth_client, runs, where):
    body = auth_client.get(where + "?state=Running&state=Succeeded&sort=name&size=10").content
    url = poll_url(body.decode())
    assert url is not None and url.endswith("poll=1")
    assert "state=Running" in url and "state=Succeeded" in url and "sort=name" in url
    assert "size=10" in url
    response = auth_client.get(url, headers=HX)
    assert response.status_code == 200
    assert "HX-Push-Url" not in response  # the poll leaves the address bar alone
    assert poll_url(response.content.decode()) == url  # and keeps polling
    assert 'id="state-counts"' in response.content.decode()  # counts refresh out of band
    # The next page's poll keeps its cursor.
    page = auth_client.get(where + "?sort=name&size=10").content.decode()
    next_url = html.unescape(re.search(r'href="([^"]*after=[^"]+)"', page).group(1))
    second = auth_client.get(next_url).content.decode()
    assert "after=" in (poll_url(second) or "")


def test_no_active_run_no_poll_and_the_last_poll_stops_with_286(auth_client, runs, where):
    assert poll_url(auth_client.get(where + "?state=Failed").content.decode()) is None
    url = poll_url(auth_client.get(where).content.decode())
    assert url is not None
    Run.objects.filter(state=RunState.RUNNING).update(state=RunState.SUCCEEDED)
    response = auth_client.get(url, headers=HX)
    assert response.status_code == 286  # htmx swaps the final table, then stops
    body = response.content.decode()
    assert poll_url(body) is None and "Running" not in re.sub(
        r"<fieldset.*?</fieldset>", "", body, flags=re.S
    )


def test_poll_query_count_is_fixed(auth_client, experiment, runs, where, django_assert_num_queries):
    url = poll_url(auth_client.get(where + "?size=100").content.decode())
    # session, user, the filters' choices, the state counts, the page (no metric columns), the
    # caller's projects and roles
    queries = 6 if where == LIST else 7
    with django_assert_num_queries(queries):
        auth_client.get(url, headers=HX)
    version = make_version("more")
    for i in range(40):
        make_run(version, experiment, state=RunState.RUNNING, name=f"more {i}")
    with django_assert_num_queries(queries):
        auth_client.get(url, headers=HX)
