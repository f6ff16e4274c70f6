"""The rule "a step's outputs are still being copied" in its two forms (the row's property and
the query's Q) says the same of every combination of the flags it reads."""

from __future__ import annotations

import itertools

import pytest

from apps.experiments.models import Experiment
from apps.pipelines.services import create_version
from apps.runs.models import STEP_OUTPUTS_PENDING, Step
from apps.runs.services import create_run
from tests.api.conftest import WORKFLOW

pytestmark = pytest.mark.django_db


def test_the_property_and_the_query_agree():
    version = create_version(upload_name="hello.yaml", data=WORKFLOW, pipeline_name="hello")
    run = create_run(version=version, experiment=Experiment.objects.create(name="e"))
    combos = itertools.product(
        ["Pod", "DAG"],
        ["Running", "Succeeded", "Failed"],
        [False, True],
        [False, True],
        ["", "gave up"],
    )
    for i, (node_type, phase, log, fetched, error) in enumerate(combos):
        Step.objects.create(
            run=run, node_id=f"n{i}", name=f"wf.s{i}", display_name=f"s{i}",
            node_type=node_type, phase=phase, artifacts_fetched=fetched, log_fetched=log,
            outputs_error=error,
        )  # fmt: skip
    steps = list(Step.objects.filter(run=run))
    by_property = {s.pk for s in steps if s.outputs_pending}
    by_query = set(Step.objects.filter(STEP_OUTPUTS_PENDING, run=run).values_list("pk", flat=True))
    assert by_property == by_query
    # Only finished pods not yet copied and not given up on: Succeeded and Failed.
    assert {s.phase for s in steps if s.pk in by_query} == {"Succeeded", "Failed"}
    assert len(by_query) == 2
