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
