"""update_rows writes what bulk_update would, in one statement per table (PostgreSQL) or an
executemany (SQLite): every field type the sync writes, NULLs included, and the database's
own bookkeeping (the state counts' triggers, the stored duration) follows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.orchestration.bulk import update_rows
from apps.runs.constants import RunState
from apps.runs.models import Run, RunStateCount, Step
from apps.runs.sync import RUN_FIELDS, STEP_FIELDS
from tests.experiments.builders import make_experiment, make_run, make_version

pytestmark = pytest.mark.django_db


def test_runs_and_steps_written_in_one_statement_each():
    version, experiment = make_version(), make_experiment()
    runs = [make_run(version, experiment, name=f"r{i}", state=RunState.RUNNING) for i in range(3)]
    steps = [
        Step.objects.create(run=run, node_id=f"n{k}", name=f"n{k}", display_name=f"n{k}")
        for run in runs
        for k in range(2)
    ]
    now = timezone.now()
    for i, run in enumerate(runs):
        run.state = RunState.SUCCEEDED if i else RunState.FAILED
        run.message = 'it\'s done; 100% \\ "quoted"' if i else ""
        run.started_at, run.finished_at = now - timedelta(seconds=10 * (i + 1)), now
        run.progress_done, run.progress_total = 2, 2
        run.workflow_resource_version = f"v{i}"
        run.last_synced_at = now
    for k, step in enumerate(steps):
        step.phase = "Succeeded"
        step.exit_code = None if k % 2 else k
        step.outputs = {"parameters": [{"name": "p", "value": f"'{k}'"}], "exitCode": "0"}
        step.resources = {"cpu": k}
        step.started_at, step.finished_at = now, None if k == 0 else now
        step.log_fetched = bool(k % 2)
    with CaptureQueriesContext(connection) as captured:
        assert update_rows(runs, [*RUN_FIELDS, "last_synced_at", "sync_error"]) == 3
        assert update_rows(steps, [*STEP_FIELDS, "log_fetched", "artifacts_fetched"]) == 6
    if connection.vendor == "postgresql":
        assert len(captured.captured_queries) == 2

    for i, run in enumerate(runs):
        stored = Run.objects.get(pk=run.pk)
        assert stored.state == run.state and stored.message == run.message
        assert stored.finished_at == now and stored.workflow_resource_version == f"v{i}"
        assert stored.took == timedelta(seconds=10 * (i + 1))  # the generated column follows
    for k, step in enumerate(steps):
        stored = Step.objects.get(pk=step.pk)
        assert stored.exit_code == (None if k % 2 else k)
        assert stored.outputs == step.outputs and stored.resources == {"cpu": k}
        assert stored.finished_at == (None if k == 0 else now)
        assert stored.log_fetched is bool(k % 2)
    counts = dict(
        RunStateCount.objects.filter(experiment_id=experiment.pk, n__gt=0).values_list("state", "n")
    )
    if connection.vendor in ("postgresql", "sqlite"):
        assert counts == {"Succeeded": 2, "Failed": 1}


def test_nothing_to_write():
    assert update_rows([], ["state"]) == 0


def test_update_values_writes_plain_rows():
    """The sync's write of steps: rows of (id, values...), no model instance a row; JSON and
    NULLs as a save would write them."""
    from apps.orchestration.bulk import update_values

    run = make_run(make_version(), make_experiment())
    a = Step.objects.create(run=run, node_id="a", name="a", display_name="a")
    b = Step.objects.create(run=run, node_id="b", name="b", display_name="b", exit_code=3)
    outputs = {"parameters": [{"name": "é", "value": "a\nb"}], "exitCode": "0", "x": None}
    fields = ["phase", "exit_code", "outputs", "sync_digest"]
    rows = [(a.pk, "Succeeded", 0, outputs, "0123456789abcdef"), (b.pk, "Failed", None, {}, "")]
    with CaptureQueriesContext(connection) as captured:
        assert update_values(Step, fields, rows) == 2
    if connection.vendor == "postgresql":
        assert len(captured.captured_queries) == 1
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.phase, a.exit_code, a.outputs, a.sync_digest) == rows[0][1:]
    assert (b.phase, b.exit_code, b.outputs) == ("Failed", None, {})


def test_node_digest_follows_every_field():
    """A node is compared with its row only when its digest moved: any change of any field
    (nested ones too) moves it; the same node parsed again does not."""
    import json

    from apps.runs.sync import node_digest

    node = {
        "id": "wf-1",
        "phase": "Running",
        "outputs": {"parameters": [{"name": "p", "value": "1"}], "exitCode": "0"},
        "progress": "0/1",
        "big": 2**70,  # past 64 bits: digested all the same
    }
    digest = node_digest(node)
    assert len(digest) == 16 and node_digest(json.loads(json.dumps(node))) == digest
    assert node_digest({**node, "phase": "Succeeded"}) != digest
    assert node_digest({**node, "outputs": {**node["outputs"], "exitCode": "1"}}) != digest
    assert node_digest({**node, "progress": "1/1"}) != digest


def test_the_columns_every_pass_writes_are_in_no_index():
    """A pass writes last_synced_at and sync_error on every active run (one UPDATE for the
    runs that did not move): with neither in an index, PostgreSQL can update those rows in
    place (HOT) instead of adding an entry to each of the table's indexes (migration 0016)."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Run._meta.db_table)
    indexed = {
        column
        for constraint in constraints.values()
        if constraint["index"] or constraint["unique"]
        for column in constraint["columns"] or []
    }
    assert "submitted_at" in indexed  # the sync's own index of the active runs
    assert indexed.isdisjoint({"last_synced_at", "sync_error"}), sorted(indexed)


def test_update_values_binds_its_arrays_on_the_server():
    """On PostgreSQL the arrays go as bound parameters (binary, made by psycopg's C dumpers),
    not quoted into the statement's text: the statement sent is the same whatever the rows.
    Values the text form of an array must quote (NULL as a string, braces, commas, quotes,
    backslashes), NULLs in every column and integers past 32 bits arrive as they were."""
    from apps.orchestration.bulk import update_values

    run = make_run(make_version(), make_experiment())
    steps = [
        Step.objects.create(run=run, node_id=f"n{k}", name=f"n{k}", display_name=f"n{k}")
        for k in range(4)
    ]
    messages = ["NULL", '{a,"b"}', "back\\slash, comma", ""]
    fields = ["message", "exit_code", "started_at", "outputs", "log_fetched"]
    rows = [
        (step.pk, messages[k], None if k % 2 else k, None, {"k": k, "s": messages[k]}, k == 0)
        for k, step in enumerate(steps)
    ]
    with CaptureQueriesContext(connection) as captured:
        assert update_values(Step, fields, rows) == 4
    if connection.vendor == "postgresql":
        (query,) = captured.captured_queries
        assert "$1" in query["sql"] and "back" not in query["sql"], query["sql"]
    for k, step in enumerate(steps):
        stored = Step.objects.get(pk=step.pk)
        assert stored.message == messages[k] and stored.exit_code == (None if k % 2 else k)
        assert stored.started_at is None and stored.outputs == {"k": k, "s": messages[k]}
        assert stored.log_fetched is (k == 0)
    # Columns of NULLs only; integers of every size an integer column holds.
    update_values(Step, ["exit_code", "finished_at"], [(s.pk, None, None) for s in steps])
    assert not Step.objects.filter(run=run, exit_code__isnull=False).exists()
    sizes = [1, 2**15, 2**31 - 1, -(2**31)]
    update_values(Step, ["exit_code"], [(s.pk, n) for s, n in zip(steps, sizes, strict=True)])
    assert [Step.objects.get(pk=s.pk).exit_code for s in steps] == sizes


def test_stored_digests_are_keyed_by_run_then_node():
    """The sync looks a run up once, then its nodes by id (no (UUID, node id) key hashed for
    every node); a run without steps has an empty map. One query on every database."""
    from apps.runs.sync import stored_digests

    version, experiment = make_version(), make_experiment()
    runs = [make_run(version, experiment, name=f"r{i}") for i in range(3)]
    steps = {
        (run.pk, f"n{k}"): Step.objects.create(
            run=run, node_id=f"n{k}", name=f"n{k}", display_name=f"n{k}", sync_digest=f"d{i}{k}"
        )
        for i, run in enumerate(runs[:2])
        for k in range(3)
    }
    other = make_run(version, experiment, name="not asked for")
    Step.objects.create(run=other, node_id="n0", name="n0", display_name="n0")
    with CaptureQueriesContext(connection) as captured:
        known = stored_digests([run.pk for run in runs])
    assert len(captured.captured_queries) == 1
    assert set(known) == {run.pk for run in runs}
    assert known[runs[2].pk] == {}
    for i, run in enumerate(runs[:2]):
        assert known[run.pk] == {
            f"n{k}": (steps[(run.pk, f"n{k}")].pk, f"d{i}{k}") for k in range(3)
        }
    assert stored_digests([]) == {}


def test_moved_rows_read_in_one_query_with_the_start_of_final_steps_only():
    """The rows of the moved nodes are read in one query (on PostgreSQL with one array
    parameter, not a placeholder a step); a step's start comes only when its phase is final,
    the one case is_rerun reads it."""
    from apps.runs.sync import moved_rows

    run = make_run(make_version(), make_experiment())
    now = timezone.now()
    running = Step.objects.create(
        run=run, node_id="a", name="a", display_name="a", phase="Running", started_at=now
    )
    done = Step.objects.create(
        run=run,
        node_id="b",
        name="b",
        display_name="b",
        phase="Failed",
        started_at=now,
        message="boom",
        log_fetched=True,
    )
    Step.objects.create(run=run, node_id="c", name="c", display_name="c")  # not asked for
    with CaptureQueriesContext(connection) as captured:
        rows = moved_rows([running.pk, done.pk])
    (query,) = captured.captured_queries
    if connection.vendor == "postgresql":
        assert "ANY" in query["sql"] and "IN (" not in query["sql"], query["sql"]
    assert rows == {
        running.pk: ("Running", None, "", False, False),
        done.pk: ("Failed", now, "boom", True, False),
    }
    assert moved_rows([]) == {}
