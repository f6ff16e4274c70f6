"""The metric rows' copies of their run's experiment, state and archived flag (the runs list's
indexes read them) follow the run through every kind of write: the triggers of migration 0002."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.runs.constants import RunState
from apps.runs.models import Metric, Run
from apps.runs.queries import uses_metric_copies
from tests.experiments.builders import make_experiment, make_run, make_version

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not uses_metric_copies(),
        reason="the copies and their triggers exist on PostgreSQL only (uses_metric_copies)",
    ),
]


def copies(run: Run) -> set[tuple]:
    return set(
        Metric.objects.filter(run=run).values_list("run_experiment_id", "run_state", "run_archived")
    )


def test_copies_follow_the_run():
    experiment = make_experiment()
    run = make_run(make_version(), experiment, state=RunState.RUNNING)
    Metric.objects.bulk_create(
        [Metric(run=run, name="accuracy", value=0.9), Metric(run=run, name="loss", value=0.1)]
    )
    assert copies(run) == {(experiment.pk, "Running", False)}

    Run.objects.filter(pk=run.pk).update(state=RunState.SUCCEEDED)  # a bulk update, no save()
    assert copies(run) == {(experiment.pk, "Succeeded", False)}

    run.refresh_from_db()
    run.archived_at = timezone.now()
    run.save(update_fields=["archived_at"])
    assert copies(run) == {(experiment.pk, "Succeeded", True)}

    # A metric saved from a stale instance cannot write wrong copies.
    metric = Metric.objects.get(run=run, name="loss")
    metric.run_state, metric.run_archived = "Pending", False
    metric.value = 0.2
    metric.save()
    assert copies(run) == {(experiment.pk, "Succeeded", True)}


def test_list_with_metric_filter_sees_state_changes(auth_client):
    run = make_run(make_version(), make_experiment(), name="r", state=RunState.RUNNING)
    Metric.objects.create(run=run, name="accuracy", value=0.95)
    url = "/runs/?state=Succeeded&m=accuracy:gt:0.9&sort=-m:accuracy"
    assert auth_client.get(url).context["listing"].total == 0
    Run.objects.filter(pk=run.pk).update(state=RunState.SUCCEEDED)
    listing = auth_client.get(url).context["listing"]
    assert listing.total == 1 and [r.name for r in listing.runs] == ["r"]
    Run.objects.filter(pk=run.pk).update(archived_at=timezone.now())
    assert auth_client.get(url).context["listing"].total == 0
    assert auth_client.get(url + "&tab=archived").context["listing"].total == 1


def test_counts_by_metric_predicates_stop_at_the_cap(auth_client, monkeypatch):
    """Past COUNT_CAP runs meeting the first predicate, the counts are lower bounds ("n+");
    below it they are exact, state by state."""
    experiment, version = make_experiment(), make_version()
    states = [RunState.SUCCEEDED] * 4 + [RunState.FAILED] * 2
    for i, state in enumerate(states):
        run = make_run(version, experiment, name=f"r{i}", state=state)
        # r5 fails the second predicate: 5 of the 6 runs match both. Its accuracy is the
        # highest: the capped range (ascending values) reads it last.
        Metric.objects.bulk_create(
            [
                Metric(run=run, name="accuracy", value=0.95 if i == 5 else 0.9),
                Metric(run=run, name="f1", value=0.1 if i == 5 else 0.9),
            ]
        )
    url = "/runs/?m=accuracy:gt:0.8&m=f1:gt:0.8&sort=-m:accuracy"
    listing = auth_client.get(url).context["listing"]
    assert (listing.total, listing.capped) == (5, False)
    counts = {state: n for state, n, _ in listing.state_counts}
    assert (counts["Succeeded"], counts["Failed"]) == (4, 1)
    # Under the cap every run is probed, however few CAPPED_PROBES allows: exact.
    monkeypatch.setattr("apps.runs.queries.CAPPED_PROBES", 1)
    listing = auth_client.get(url).context["listing"]
    assert (listing.total, listing.capped) == (5, False)
    # Past the cap only the first CAPPED_PROBES runs read are probed (a lower bound anyway).
    monkeypatch.setattr("apps.runs.queries.COUNT_CAP", 3)
    listing = auth_client.get(url).context["listing"]
    assert listing.capped and listing.total == 1
    monkeypatch.setattr("apps.runs.queries.CAPPED_PROBES", 2_500)

    monkeypatch.setattr("apps.runs.queries.COUNT_CAP", 3)
    response = auth_client.get(url)
    listing = response.context["listing"]
    # Four accuracy rows read (cap + 1), of which those with f1 > 0.8 are counted.
    assert listing.capped and 1 <= listing.total <= 4
    assert f"<strong>{listing.total}+</strong>" in response.content.decode()
    assert len(listing.runs) == 5  # the page itself is not capped


def _page_sql(auth_client, url: str) -> str:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert auth_client.get(url).status_code == 200
    return max((q["sql"] for q in captured.captured_queries if "LIMIT 21" in q["sql"]), key=len)


def test_the_state_filter_is_said_once_when_a_predicate_joins_the_copies(auth_client):
    """With a metric predicate joined, the state filter is the metric rows' copy of the state
    only: said on the run too, PostgreSQL multiplied both selectivities and, at 1M runs, chose
    to hash a whole experiment's runs instead of walking the metric's index for a page. The
    same runs either way."""
    experiment, version = make_experiment(), make_version()
    for i, state in enumerate([RunState.SUCCEEDED, RunState.SUCCEEDED, RunState.FAILED]):
        run = make_run(version, experiment, name=f"r{i}", state=state)
        Metric.objects.bulk_create(
            [
                Metric(run=run, name="accuracy", value=0.9 + i / 100),
                Metric(run=run, name="auc", value=0.5),
            ]
        )
    joined = "/runs/?state=Succeeded&m=accuracy:gt:0.8&sort=-m:accuracy&size=20"
    sql = _page_sql(auth_client, joined)
    assert '"runs_run"."state"' not in sql.split("WHERE", 1)[1] and "run_state" in sql, sql
    names = [r.name for r in auth_client.get(joined).context["listing"].runs]
    assert names == ["r1", "r0"]
    # Sorted by another metric, the predicate is probed per run (no copies joined): the run's
    # own state filters.
    probed = "/runs/?state=Succeeded&m=accuracy:gt:0.8&sort=-m:auc&size=20"
    assert '"runs_run"."state"' in _page_sql(auth_client, probed).split("WHERE", 1)[1]
    assert {r.name for r in auth_client.get(probed).context["listing"].runs} == {"r0", "r1"}
    # The state changes: the copies follow, so does the list.
    Run.objects.filter(name="r2").update(state=RunState.SUCCEEDED)
    assert [r.name for r in auth_client.get(joined).context["listing"].runs] == ["r2", "r1", "r0"]
