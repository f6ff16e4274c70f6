"""An experiment's page lists its runs with the runs list of /runs/ (run_listing): filters
with state counts, metric predicates and columns, sort, keyset pages, HTMX swaps pushing the
URL, Runs / Archived runs tabs with their bulk actions, and a fixed number of queries."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.experiment_archive.services import archive_experiment
from apps.runs.constants import RunState
from apps.runs.models import Metric, Run
from tests.experiments.builders import make_experiment, make_run, make_version

pytestmark = pytest.mark.django_db


def names(response) -> list[str]:
    return [run.name for run in response.context["listing"].runs]


def add_metrics(run: Run, **values: float) -> None:
    for name, value in values.items():
        Metric.objects.create(run=run, name=name, value=value)


@pytest.fixture
def scene():
    """Two experiments with runs and accuracies; `exp` also has an archived run."""
    version = make_version()
    exp, other = make_experiment("exp"), make_experiment("other")
    for name, state, accuracy in (
        ("good", RunState.SUCCEEDED, 0.95),
        ("fair", RunState.SUCCEEDED, 0.8),
        ("broken", RunState.FAILED, 0.3),
    ):
        add_metrics(make_run(version, exp, name=name, state=state), accuracy=accuracy)
    add_metrics(make_run(version, other, name="elsewhere", state=RunState.SUCCEEDED), accuracy=1)
    make_run(version, exp, name="shelved", state=RunState.SUCCEEDED, archived_at=timezone.now())
    return exp


def test_the_page_uses_the_runs_list(auth_client, scene):
    response = auth_client.get(scene.get_absolute_url())
    assert sorted(names(response)) == ["broken", "fair", "good"]
    body = response.content.decode()
    # The list's filter column, without the experiment filter; the table without its column.
    assert 'id="run-filters"' in body and 'id="state-counts"' in body
    assert 'id="id_experiment"' not in body
    assert "experiment" not in [c.key for c in response.context["listing"].columns]
    assert "runs_list.js" in body and "runs_list.css" in body and 'class="rl-layout"' in body
    counts = {s: n for s, n, _ in response.context["listing"].state_counts}
    assert counts[RunState.SUCCEEDED] == 2 and counts[RunState.FAILED] == 1
    # The Runs tab's bulk action, coming back here.
    assert 'action="' + reverse("runs:archive_many") + '"' in body
    assert 'name="next" value="' + scene.get_absolute_url() + '"' in body


def test_predicates_columns_and_sort_stay_inside_the_experiment(auth_client, scene):
    url = scene.get_absolute_url() + "?m=accuracy:gt:0.5&sort=-m:accuracy&metrics=accuracy"
    response = auth_client.get(url)
    assert names(response) == ["good", "fair"]
    listing = response.context["listing"]
    assert listing.metric_columns == ["accuracy"] and listing.total == 2
    body = response.content.decode()
    assert "0.95" in body and "elsewhere" not in body
    # Every link of the list stays on the experiment's page.
    for column in listing.columns:
        assert column.sort_url.startswith(scene.get_absolute_url())
    ascending = auth_client.get(scene.get_absolute_url() + "?sort=m:accuracy")
    assert names(ascending) == ["broken", "fair", "good"]


def test_state_filter_and_search(auth_client, scene):
    failed = auth_client.get(scene.get_absolute_url() + "?state=Failed")
    assert names(failed) == ["broken"]
    counts = {s: n for s, n, _ in failed.context["listing"].state_counts}
    assert counts[RunState.SUCCEEDED] == 2  # the counts ignore the state filter
    assert names(auth_client.get(scene.get_absolute_url() + "?q=goo")) == ["good"]


def test_keyset_pages_walk_the_experiment_once(auth_client):
    version, exp = make_version(), make_experiment("exp")
    made = {make_run(version, exp, name=f"r{i:02}").name for i in range(23)}
    make_run(version, make_experiment("other"), name="outsider")
    seen: list[str] = []
    url: str | None = exp.get_absolute_url() + "?size=10&sort=name"
    while url:
        response = auth_client.get(url)
        seen += names(response)
        url = response.context["listing"].next_url
        assert url is None or url.startswith(exp.get_absolute_url() + "?")
    assert seen == sorted(made)


def test_htmx_swaps_the_table_and_pushes_the_url(auth_client, scene):
    response = auth_client.get(
        scene.get_absolute_url() + "?state=Failed&runs=nonsense",
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="run-table"')
    assert "<html" not in body and "broken" in body and "good" not in body
    # The counts and the form's hidden fields come along out of band.
    assert 'id="state-counts" class="rl-states" hx-swap-oob="true"' in body
    assert response["HX-Push-Url"] == scene.get_absolute_url() + "?state=Failed"


def test_archived_runs_tab(auth_client, scene):
    url = scene.get_absolute_url() + "?runs=archived"
    response = auth_client.get(url + "&size=50", headers={"HX-Request": "true"})
    assert names(response) == ["shelved"]
    # The tab is kept in every URL of the list and in the filter form.
    assert response["HX-Push-Url"] == url + "&size=50"
    listing = response.context["listing"]
    assert listing.clear_url == url
    assert all("runs=archived" in u for _, u in listing.size_urls)
    page = auth_client.get(url).content.decode()
    assert '<input type="hidden" name="runs" value="archived">' in page
    assert 'action="' + reverse("runs:restore_many") + '"' in page
    assert 'aria-current="page">Archived runs</a>' in page


def test_archived_experiment_shows_all_its_runs_without_actions(auth_client, scene):
    archive_experiment(scene)
    response = auth_client.get(scene.get_absolute_url() + "?runs=archived")
    assert sorted(names(response)) == ["broken", "fair", "good", "shelved"]
    listing = response.context["listing"]
    assert listing.bulk_url is None and listing.keep == ()
    body = response.content.decode()
    assert reverse("runs:archive_many") not in body and reverse("runs:restore_many") not in body


def test_add_row_without_javascript_redirects_to_the_canonical_url(auth_client, scene):
    response = auth_client.get(
        scene.get_absolute_url() + "?runs=archived&m_name=accuracy&m_op=gte&m_value=0.5"
    )
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query == {"runs": ["archived"], "m": ["accuracy:gte:0.5"]}


def test_empty_states(auth_client):
    exp = make_experiment("empty")
    body = auth_client.get(exp.get_absolute_url()).content.decode()
    assert "No runs in this experiment yet" in body
    assert f"{reverse('runs:create')}?experiment={exp.pk}" in body
    filtered = auth_client.get(exp.get_absolute_url() + "?runs=archived&state=Failed")
    assert "No runs match" in filtered.content.decode()
    assert filtered.context["listing"].clear_url == exp.get_absolute_url() + "?runs=archived"


@pytest.mark.parametrize("n", [5, 60])
def test_query_count_is_fixed(auth_client, django_assert_num_queries, n):
    version = make_version()
    exp = make_experiment("exp")
    for i in range(n):
        run = make_run(version, exp, state=RunState.SUCCEEDED if i % 2 else RunState.FAILED)
        add_metrics(run, accuracy=i / n, loss=1 - i / n)
    url = exp.get_absolute_url() + "?m=accuracy:gte:0&sort=-m:accuracy&metrics=accuracy,loss"
    # session, user, experiment, the filters' choices with the metric names, the state
    # counts, the page, the page's metric values (none without metric columns), the caller's
    # projects and roles
    with django_assert_num_queries(8):
        response = auth_client.get(url + "&size=50")
    assert len(names(response)) == min(n, 50)
    with django_assert_num_queries(8):
        auth_client.get(response.context["listing"].next_url or url + "&size=10")
    with django_assert_num_queries(7):
        auth_client.get(exp.get_absolute_url())
    with django_assert_num_queries(7):
        auth_client.get(exp.get_absolute_url() + "?runs=archived", headers={"HX-Request": "true"})
