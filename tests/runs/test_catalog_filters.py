"""The Artifacts and Executions FilterSets, used directly (no views)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from apps.runs.catalog_filters import ArtifactFilter, ExecutionFilter
from apps.runs.constants import ArtifactKind, RunState, StepPhase
from apps.runs.models import Artifact, Step
from tests.experiments.builders import make_experiment, make_run, make_step, make_version

pytestmark = pytest.mark.django_db


def add_artifact(run, step, name, kind, content=b"", media_type="", data=None, **kw):
    artifact = Artifact(
        run=run, step=step, name=name, kind=kind, media_type=media_type, data=data or {}, **kw
    )
    if content:
        artifact.file.save(f"{run.pk}/{name}", ContentFile(content), save=False)
        artifact.size = len(content)
    artifact.save()
    return artifact


@pytest.fixture
def world():
    """Two pipelines in two experiments: churn (a run with an html report and a table) and
    fraud (a run with a confusion matrix)."""
    churn, fraud = make_version("churn", "v1"), make_version("fraud", "v2")
    alpha, beta = make_experiment("alpha"), make_experiment("beta")
    run_a = make_run(churn, alpha, name="nightly churn", state=RunState.SUCCEEDED)
    run_b = make_run(fraud, beta, name="fraud retrain", state=RunState.FAILED)
    train_a = make_step(run_a, "train", StepPhase.SUCCEEDED)
    eval_b = make_step(run_b, "evaluate", StepPhase.FAILED)
    report = add_artifact(run_a, train_a, "report", ArtifactKind.HTML, b"<p>x</p>" * 10)
    table = add_artifact(run_a, train_a, "scores", ArtifactKind.TABLE, b"a,b\n1,2\n")
    matrix = add_artifact(run_b, eval_b, "matrix", ArtifactKind.CONFUSION_MATRIX, b"{}" * 200)
    return {
        "runs": (run_a, run_b),
        "artifacts": (report, table, matrix),
        "experiments": (alpha, beta),
        "pipelines": (churn.pipeline, fraud.pipeline),
    }


def artifacts(data):
    return list(ArtifactFilter(data, queryset=Artifact.objects.all()).qs)


def test_artifact_kind(world):
    report, _table, matrix = world["artifacts"]
    assert artifacts({"kind": "html"}) == [report]
    assert artifacts({"kind": "confusion_matrix"}) == [matrix]
    bad = ArtifactFilter({"kind": "pdf"}, queryset=Artifact.objects.all())
    assert not bad.is_valid() and "kind" in bad.errors


def test_artifact_run_by_id_or_name(world):
    _run_a, run_b = world["runs"]
    report, table, matrix = world["artifacts"]
    assert artifacts({"run": str(run_b.pk)}) == [matrix]
    assert set(artifacts({"run": "NIGHTLY"})) == {report, table}
    assert artifacts({"run": "nightly fraud"}) == []  # every word must match


def test_artifact_pipeline_and_experiment(world):
    _churn, fraud = world["pipelines"]
    alpha, _beta = world["experiments"]
    report, table, matrix = world["artifacts"]
    assert artifacts({"pipeline": fraud.pk}) == [matrix]
    assert set(artifacts({"experiment": alpha.pk})) == {report, table}
    assert artifacts({"experiment": alpha.pk, "pipeline": fraud.pk}) == []
    bad = ArtifactFilter({"pipeline": 999_999}, queryset=Artifact.objects.all())
    assert not bad.is_valid() and "pipeline" in bad.errors


def test_artifact_search_name_or_step(world):
    _report, table, matrix = world["artifacts"]
    assert artifacts({"q": "score"}) == [table]
    assert artifacts({"q": "evaluate"}) == [matrix]


def test_artifact_sort(world):
    report, table, matrix = world["artifacts"]
    assert artifacts({"sort": "size"}) == [table, report, matrix]
    assert artifacts({"sort": "-size"}) == [matrix, report, table]
    assert artifacts({"sort": "name"}) == [matrix, report, table]
    assert artifacts({}) == [matrix, table, report]  # newest first
    assert not ArtifactFilter({"sort": "data"}, queryset=Artifact.objects.all()).is_valid()


def test_artifact_kind_counts_follow_the_other_filters(world):
    alpha, _ = world["experiments"]
    counts = ArtifactFilter({"kind": "html"}, queryset=Artifact.objects.all()).facet_counts()
    assert counts == {"html": 1, "table": 1, "confusion_matrix": 1}
    scoped = ArtifactFilter({"kind": "html", "experiment": alpha.pk}, queryset=Artifact.objects)
    assert scoped.facet_counts() == {"html": 1, "table": 1}


@pytest.fixture
def steps():
    version, experiment = make_version("churn", "v1"), make_experiment("alpha")
    run = make_run(version, experiment, name="weekly", state=RunState.RUNNING)
    now = timezone.now()
    dag = make_step(run, run.workflow_name, StepPhase.RUNNING, node_type="DAG", started_at=now)
    quick = make_step(
        run,
        "prepare",
        StepPhase.SUCCEEDED,
        template_name="prepare-t",
        started_at=now - timedelta(minutes=10),
        finished_at=now - timedelta(minutes=9, seconds=50),
    )
    slow = make_step(
        run,
        "train",
        StepPhase.FAILED,
        template_name="train-t",
        started_at=now - timedelta(minutes=9),
        finished_at=now - timedelta(minutes=1),
        exit_code=2,
    )
    retry = make_step(run, "train", StepPhase.FAILED, node_type="Retry", node_id="r")
    pending = make_step(run, "evaluate", StepPhase.PENDING)
    return {"dag": dag, "quick": quick, "slow": slow, "retry": retry, "pending": pending}


def executions(data):
    return list(ExecutionFilter(data, queryset=Step.objects.all()).qs)


def test_executions_hide_bookkeeping_nodes_unless_asked(steps):
    assert set(executions({})) == {steps["quick"], steps["slow"], steps["pending"]}
    assert set(executions({"all": "true"})) == set(steps.values())
    assert set(executions({"all": "on"})) == set(steps.values())


def test_executions_state_and_text(steps):
    assert executions({"phase": "Failed"}) == [steps["slow"]]
    assert executions({"phase": "Failed", "all": "true"}) == [steps["slow"], steps["retry"]]
    assert executions({"q": "prepare-t"}) == [steps["quick"]]
    assert set(executions({"q": "weekly"})) == {steps["quick"], steps["slow"], steps["pending"]}
    assert not ExecutionFilter({"phase": "Done"}, queryset=Step.objects.all()).is_valid()


def test_executions_sort_by_started_and_duration(steps):
    # Newest start first; a step that has not started goes last either way.
    assert executions({}) == [steps["slow"], steps["quick"], steps["pending"]]
    assert executions({"sort": "started"}) == [steps["quick"], steps["slow"], steps["pending"]]
    assert executions({"sort": "-duration"}) == [steps["slow"], steps["quick"], steps["pending"]]
    assert executions({"sort": "duration"}) == [steps["quick"], steps["slow"], steps["pending"]]


def test_execution_phase_counts(steps):
    counts = ExecutionFilter({"phase": "Failed"}, queryset=Step.objects.all()).facet_counts()
    assert counts == {"Succeeded": 1, "Failed": 1, "Pending": 1}
    shown = ExecutionFilter({"all": "true"}, queryset=Step.objects.all())
    assert shown.facet_counts() == {"Running": 1, "Succeeded": 1, "Failed": 2, "Pending": 1}
