"""What keeps the runs list flat as runs grow (migration 0009), on PostgreSQL and SQLite:

- the state counts the database keeps (runs_runstatecount) follow every kind of write and are
  what the page shows when nothing but the tab and an experiment restricts it;
- the stored duration (`took`) follows the run's ends, however they are written;
- a run id's prefix is searched as a range of the primary key, with or without dashes;
- several metric predicates count from the metric indexes (PostgreSQL) with the same result;
- the Executions and Artifacts lists' phase and kind counts are kept the same way, by their
  run's experiment (migrations 0012, 0015), and give those lists their row count, one
  experiment's too.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.experiment_archive.services import delete_experiment
from apps.experiments.models import Experiment
from apps.runs.catalog_filters import BOOKKEEPING_NODE_TYPES
from apps.runs.constants import RunState
from apps.runs.models import (
    Artifact,
    ArtifactKindCount,
    Metric,
    Run,
    RunStateCount,
    Step,
    StepPhaseCount,
)
from apps.runs.queries import uses_metric_copies
from apps.runs.state_counts import ensure_triggers, kept_by_database
from tests.experiments.builders import make_experiment, make_run, make_step, make_version

pytestmark = pytest.mark.django_db
LIST = reverse("runs:list")


def stored() -> dict[tuple[int, bool, str], int]:
    return {
        (e, a, s): n
        for e, a, s, n in RunStateCount.objects.values_list(
            "experiment_id", "archived", "state", "n"
        )
        if n
    }


def counted() -> dict[tuple[int, bool, str], int]:
    rows = Run.objects.order_by().values_list("experiment_id", "state", "archived_at")
    out: dict[tuple[int, bool, str], int] = {}
    for experiment_id, state, archived_at in rows:
        key = (experiment_id, archived_at is not None, state)
        out[key] = out.get(key, 0) + 1
    return out


needs_counts = pytest.mark.skipif(
    not kept_by_database(connection), reason="no count triggers on this database"
)


@needs_counts
def test_stored_counts_follow_every_kind_of_write():
    version, first, second = make_version(), make_experiment("first"), make_experiment("second")
    run = make_run(version, first, state=RunState.RUNNING)
    make_run(version, first, state=RunState.RUNNING)
    Run.objects.bulk_create(
        [
            Run(name=f"b{i}", experiment=second, pipeline_version=version, state=RunState.PENDING)
            for i in range(3)
        ]
    )
    assert (
        stored()
        == counted()
        == {
            (first.pk, False, "Running"): 2,
            (second.pk, False, "Pending"): 3,
        }
    )
    # A bulk update (the sync's kind), a save, an archive, a move, deletes.
    Run.objects.filter(experiment=second).update(state=RunState.RUNNING)
    run.state = RunState.SUCCEEDED
    run.save(update_fields=["state"])
    Run.objects.filter(pk=run.pk).update(archived_at=timezone.now())
    Run.objects.filter(name="b0").update(experiment=first)
    assert stored() == counted()
    assert stored()[(first.pk, True, "Succeeded")] == 1
    Run.objects.filter(name__in=["b1", "b2"]).delete()
    # An update that changes nothing counted leaves the counts alone.
    Run.objects.update(message="synced")
    assert (
        stored()
        == counted()
        == {
            (first.pk, True, "Succeeded"): 1,
            (first.pk, False, "Running"): 2,
        }
    )


@needs_counts
def test_the_page_shows_the_stored_counts(auth_client, django_assert_num_queries):
    version, experiment = make_version(), make_experiment()
    for state in ("Running", "Running", "Failed"):
        make_run(version, experiment, state=state)
    archived = make_run(version, make_experiment("other"), state=RunState.SUCCEEDED)
    Run.objects.filter(pk=archived.pk).update(archived_at=timezone.now())
    # Proof that the page reads the table: an entry no run backs shows on the page.
    RunStateCount.objects.filter(experiment_id=experiment.pk, state="Failed").update(n=7)
    counts = {s: n for s, n, _ in auth_client.get(LIST).context["listing"].state_counts}
    assert counts["Running"] == 2 and counts["Failed"] == 7 and counts["Succeeded"] == 0
    listing = auth_client.get(LIST + "?tab=archived").context["listing"]
    assert {s: n for s, n, _ in listing.state_counts}["Succeeded"] == 1
    listing = auth_client.get(f"{LIST}?experiment={experiment.pk}&state=Failed").context["listing"]
    assert listing.total == 7  # the checked state's stored count
    # Any other filter counts the runs themselves.
    listing = auth_client.get(LIST + "?q=run").context["listing"]
    assert {s: n for s, n, _ in listing.state_counts}["Failed"] == 1


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite rebuilds tables to alter them")
def test_sqlite_triggers_come_back_after_a_table_rebuild():
    version, experiment = make_version(), make_experiment()
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER runs_run_count_insert")  # what a rebuild of runs_run does
    make_run(version, experiment, state=RunState.RUNNING)
    assert stored() == {}
    ensure_triggers(connection)  # post_migrate
    assert stored() == counted() == {(experiment.pk, False, "Running"): 1}
    make_run(version, experiment, state=RunState.RUNNING)
    assert stored() == {(experiment.pk, False, "Running"): 2}


def test_took_follows_the_run_ends():
    now = timezone.now()
    run = make_run(make_version(), make_experiment(), started_at=now)
    run.refresh_from_db()
    assert run.took is None
    Run.objects.filter(pk=run.pk).update(finished_at=now + timedelta(seconds=90))
    run.refresh_from_db()
    assert run.took == timedelta(seconds=90)
    Run.objects.filter(pk=run.pk).update(started_at=None)
    run.refresh_from_db()
    assert run.took is None


def test_id_prefix_search(auth_client):
    version, experiment = make_version(), make_experiment()
    run = make_run(version, experiment, name="alpha")
    make_run(version, experiment, name="beta")
    text = str(run.pk)
    for word in (text[:6], text[:13], text.replace("-", "")[:14], text, text.upper()[:10]):
        names = [r.name for r in auth_client.get(f"{LIST}?q={word}").context["listing"].runs]
        assert names == ["alpha"], word
    # A dash where a UUID has none matches no id (and this name neither).
    assert auth_client.get(f"{LIST}?q={text[:3]}-{text[4:6]}").context["listing"].runs == []


def test_two_metric_predicates_count_what_the_page_lists(auth_client):
    version, experiment = make_version(), make_experiment()
    values = [(0.95, 0.9, "Succeeded"), (0.95, 0.5, "Succeeded"), (0.85, 0.9, "Failed")]
    values += [(0.99, 0.99, "Failed"), (0.2, 0.95, "Running")]
    for i, (accuracy, f1, state) in enumerate(values):
        run = make_run(version, experiment, name=f"r{i}", state=state)
        Metric.objects.create(run=run, name="accuracy", value=accuracy)
        Metric.objects.create(run=run, name="f1", value=f1)
        Metric.objects.create(run=run, name="auc", value=i / 10)
    url = f"{LIST}?m=accuracy:gt:0.8&m=f1:gt:0.8&m=accuracy:lt:0.99&sort=-m:auc"
    listing = auth_client.get(url).context["listing"]
    assert [r.name for r in listing.runs] == ["r2", "r0"]
    # r0 (Succeeded) and r2 (Failed) only: r1's f1, r3's accuracy and r4's accuracy fail.
    assert {s: n for s, n, _ in listing.state_counts if n} == {"Succeeded": 1, "Failed": 1}
    assert listing.total == 2


def _page_sql(client, url: str) -> str:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    pages = [q["sql"] for q in captured.captured_queries if "LIMIT 11" in q["sql"]]
    assert len(pages) == 1, pages
    return pages[0]


@pytest.mark.parametrize(
    ("url", "metric_joins", "walk"),
    [
        # The sort's metric is joined (the page walks its index), the predicates are probes;
        # forced to walk: 18 matching runs are few enough to read per run (next case).
        ("?m=accuracy:gt:0.8&m=f1:gt:0.8&sort=-m:auc", 1, True),
        # Few runs match and the sort is another metric: the page starts from the first
        # predicate's runs (queries.among_predicate_runs) and probes the sort's value too.
        # PostgreSQL only: SQLite has no counts from the metrics' indexes to say so (None).
        ("?m=accuracy:gt:0.8&m=f1:gt:0.8&sort=-m:auc", None, False),
        ("?m=accuracy:gt:0.8&m=f1:gt:0.8&sort=-m:f1", 1, False),
        # No metric sort: the first predicate's metric is joined.
        ("?m=accuracy:gt:0.8&m=f1:gt:0.8&m=auc:gte:0", 1, False),
    ],
)
def test_the_page_joins_one_metric(auth_client, monkeypatch, url, metric_joins, walk):
    """Predicates on metrics other than the joined one are tested per run (a probe of the
    unique (run, name) index), not joined: every join is a relation the planner orders (three
    metric joins cost 10-45 ms of planning at 100k runs for 1-2 ms of execution). Same runs,
    in the same order, on every page, both ways."""
    if walk:
        monkeypatch.setattr("apps.runs.queries.FEW_MATCHES", -1)
    if metric_joins is None:
        metric_joins = 0 if uses_metric_copies() else 1
    version, experiment = make_version(), make_experiment()
    expected, start = [], timezone.now() - timedelta(days=1)
    for i in range(30):  # 18 match: two pages of 10
        accuracy, f1 = (0.9, 0.95) if i % 3 else (0.5, 0.95)
        if i == 4:
            f1 = 0.1
        run = make_run(version, experiment, name=f"r{i:02d}")
        Run.objects.filter(pk=run.pk).update(created_at=start + timedelta(minutes=i))
        Metric.objects.create(run=run, name="accuracy", value=accuracy)
        if i != 7:  # a run without f1 fails its predicate
            Metric.objects.create(run=run, name="f1", value=f1)
        Metric.objects.create(run=run, name="auc", value=i / 100)
        if accuracy > 0.8 and f1 > 0.8 and i != 7:
            expected.append(run.name)
    sql = _page_sql(auth_client, f"{LIST}{url}&size=10").replace('"', "")
    assert len(re.findall(r"JOIN runs_metric\b", sql)) == metric_joins, sql
    if "sort=-m:auc" in url:
        expected.reverse()  # by auc, descending
    elif "sort=-m:f1" not in url:
        expected = sorted(expected, key=lambda name: name, reverse=True)  # newest first
    pages, link = [], f"{LIST}{url}&size=10"
    while link:
        listing = auth_client.get(link).context["listing"]
        pages.append([r.name for r in listing.runs])
        link = listing.next_url
    walked = [name for page in pages for name in page]
    if "sort=-m:f1" in url:
        assert sorted(walked) == sorted(expected)  # ties on f1, broken by id
    else:
        assert walked == expected
    assert len(pages) == 2 and listing.previous_url is not None
    back = auth_client.get(listing.previous_url).context["listing"]
    assert [r.name for r in back.runs] == pages[0]
    assert listing.total == len(expected)


def _facet_counts(response) -> dict[str, int]:
    return {item["value"]: item["count"] for item in response.context["facets"]["items"]}


@needs_counts
def test_step_phase_and_artifact_kind_counts_follow_writes(auth_client):
    run = make_run(make_version(), make_experiment(), state=RunState.RUNNING)
    dag = make_step(run, "main", "Running", node_type="DAG")
    pods = [make_step(run, f"s{i}", "Running") for i in range(3)]
    Step.objects.filter(pk__in=[pods[0].pk, pods[1].pk]).update(phase="Succeeded")
    Step.objects.filter(pk=pods[2].pk).update(phase="Failed")
    assert set(StepPhaseCount.objects.filter(n__gt=0).values_list("bookkeeping", "phase", "n")) == {
        (True, "Running", 1),
        (False, "Succeeded", 2),
        (False, "Failed", 1),
    }
    response = auth_client.get(reverse("executions:list"))
    counts = _facet_counts(response)
    assert counts[""] == 3 and counts["Succeeded"] == 2 and counts["Failed"] == 1
    assert counts["Running"] == 0  # the DAG node is bookkeeping: hidden by default
    shown = _facet_counts(auth_client.get(reverse("executions:list") + "?all=on"))
    assert shown[""] == 4 and shown["Running"] == 1
    # The page reads the stored counts: an entry no step backs shows.
    StepPhaseCount.objects.filter(bookkeeping=False, phase="Failed").update(n=5)
    failed = auth_client.get(reverse("executions:list") + "?phase=Failed")
    assert _facet_counts(failed)["Failed"] == 5 and failed.context["page"].count == 5
    StepPhaseCount.objects.filter(bookkeeping=False, phase="Failed").update(n=1)
    dag.delete()
    assert not StepPhaseCount.objects.filter(bookkeeping=True, n__gt=0).exists()

    for kind in ("table", "table", "html"):
        Artifact.objects.create(run=run, step=pods[0], name=kind, kind=kind)
    Artifact.objects.filter(kind="html").update(kind="markdown")
    assert dict(ArtifactKindCount.objects.filter(n__gt=0).values_list("kind", "n")) == {
        "table": 2,
        "markdown": 1,
    }
    counts = _facet_counts(auth_client.get(reverse("artifacts:list")))
    assert counts[""] == 3 and counts["table"] == 2 and counts["markdown"] == 1
    Run.objects.filter(pk=run.pk).delete()  # cascades to its steps and artifacts
    assert not ArtifactKindCount.objects.filter(n__gt=0).exists()
    assert not StepPhaseCount.objects.filter(n__gt=0).exists()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL flushes with one TRUNCATE")
def test_sqlite_counts_stay_empty_when_emptied_before_the_rows():
    """Django's flush between transactional tests deletes the tables in any order."""
    version, experiment = make_version(), make_experiment()
    make_run(version, experiment, state=RunState.RUNNING)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM runs_runstatecount")
        cursor.execute("DELETE FROM runs_run")
    assert not RunStateCount.objects.exists()


def kept_catalog() -> tuple[dict[tuple, int], dict[tuple, int]]:
    """The kept step and artifact counts, without the zeros."""
    steps = StepPhaseCount.objects.values_list("experiment_id", "bookkeeping", "phase", "n")
    kinds = ArtifactKindCount.objects.values_list("experiment_id", "kind", "n")
    return ({(e, b, p): n for e, b, p, n in steps if n}, {(e, k): n for e, k, n in kinds if n})


def counted_catalog() -> tuple[dict[tuple, int], dict[tuple, int]]:
    """The same, counted from the rows through their runs."""
    steps: dict[tuple, int] = {}
    for e, node_type, phase in Step.objects.values_list("run__experiment_id", "node_type", "phase"):
        key = (e, node_type in BOOKKEEPING_NODE_TYPES, phase)
        steps[key] = steps.get(key, 0) + 1
    kinds: dict[tuple, int] = {}
    for e, kind in Artifact.objects.values_list("run__experiment_id", "kind"):
        kinds[(e, kind)] = kinds.get((e, kind), 0) + 1
    return steps, kinds


@needs_counts
def test_step_and_artifact_counts_by_experiment_follow_every_kind_of_write():
    version, first, second = make_version(), make_experiment("first"), make_experiment("second")
    a, b = make_run(version, first), make_run(version, second)
    make_step(a, "main", "Running", node_type="DAG")
    pod = make_step(a, "a0", "Running")
    Step.objects.bulk_create(
        [Step(run=b, node_id=f"b{i}", display_name=f"b{i}", phase="Pending") for i in range(3)]
    )
    Artifact.objects.create(run=a, step=pod, name="t", kind="table")
    Artifact.objects.bulk_create([Artifact(run=b, name=f"h{i}", kind="html") for i in range(2)])
    assert kept_catalog() == counted_catalog()
    assert kept_catalog()[0][(second.pk, False, "Pending")] == 3
    # A bulk update (the sync's kind), a save, a move to another run (and experiment), deletes.
    Step.objects.filter(run=b).update(phase="Succeeded")
    pod.phase = "Failed"
    pod.save(update_fields=["phase"])
    Step.objects.filter(display_name="b0").update(run=a)
    Artifact.objects.filter(name="h0").update(run=a, kind="markdown")
    assert kept_catalog() == counted_catalog()
    assert kept_catalog()[0][(first.pk, False, "Succeeded")] == 1
    Step.objects.filter(display_name="b1").delete()
    Step.objects.update(message="synced")  # changes nothing counted
    assert kept_catalog() == counted_catalog()
    # Deleting a run cascades to its steps and artifacts while the run still names them.
    Run.objects.filter(pk=b.pk).delete()
    assert kept_catalog() == counted_catalog()
    assert not any(key[0] == second.pk for key in kept_catalog()[0])
    # Deleting an (archived) experiment deletes its runs, then it.
    Experiment.objects.filter(pk=first.pk).update(archived_at=timezone.now())
    first.refresh_from_db()
    delete_experiment(first)
    assert kept_catalog() == counted_catalog() == ({}, {})


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
def test_truncate_empties_the_catalogue_counts():
    run = make_run(make_version(), make_experiment())
    step = make_step(run, "s", "Running")
    Artifact.objects.create(run=run, step=step, name="t", kind="table")
    assert kept_catalog() != ({}, {})
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no key checks pending
        cursor.execute("TRUNCATE runs_step CASCADE")  # the artifacts (and metrics) name a step
    assert kept_catalog() == ({}, {})
    make_step(run, "again", "Running")
    assert kept_catalog() == counted_catalog()


@needs_counts
def test_one_experiment_catalogues_read_the_kept_counts(auth_client):
    version, mine, other = make_version(), make_experiment("mine"), make_experiment("other")
    for experiment, phases in ((mine, ("Failed", "Succeeded")), (other, ("Failed",))):
        run = make_run(version, experiment)
        for n, phase in enumerate(phases):
            step = make_step(run, f"s{n}", phase)
            Artifact.objects.create(run=run, step=step, name=f"a{n}", kind="table")
    # Proof that the pages read the tables: an entry no step or artifact backs shows.
    StepPhaseCount.objects.filter(experiment_id=mine.pk, phase="Failed").update(n=5)
    ArtifactKindCount.objects.filter(experiment_id=mine.pk, kind="table").update(n=6)
    executions = auth_client.get(reverse("executions:list") + f"?experiment={mine.pk}")
    counts = _facet_counts(executions)
    assert counts["Failed"] == 5 and counts["Succeeded"] == 1 and counts[""] == 6
    assert executions.context["page"].count == 6
    failed = auth_client.get(reverse("executions:list") + f"?experiment={mine.pk}&phase=Failed")
    assert failed.context["page"].count == 5
    artifacts = auth_client.get(reverse("artifacts:list") + f"?experiment={mine.pk}")
    assert _facet_counts(artifacts)["table"] == 6 and artifacts.context["page"].count == 6
    # Unfiltered: the sum over the project's experiments.
    everything = auth_client.get(reverse("executions:list"))
    assert _facet_counts(everything)["Failed"] == 6 and everything.context["page"].count == 7
    assert auth_client.get(reverse("artifacts:list")).context["page"].count == 7


def test_a_run_keeps_its_experiment_in_the_admin(admin_client):
    run = make_run(make_version(), make_experiment())
    body = admin_client.get(reverse("admin:runs_run_change", args=[run.pk])).content.decode()
    assert 'name="experiment"' not in body and "baseline" in body
    assert 'name="experiment"' in admin_client.get(reverse("admin:runs_run_add")).content.decode()
