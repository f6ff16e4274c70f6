"""A retried step whose new attempt ends within the same second as the old one: Argo's node
reads exactly as before (phase, times to the second, message, exit code), yet the sync must
copy it again and report its end, so that its log and outputs are fetched anew."""

from __future__ import annotations

import pytest

from apps.runs.constants import StepPhase
from apps.runs.models import Step
from apps.runs.services import mark_rerun
from apps.runs.sync import sync_steps
from tests.experiments.builders import make_experiment, make_run, make_version

pytestmark = pytest.mark.django_db


def test_a_rerun_that_reads_like_the_old_attempt_is_copied_and_reported_again():
    run = make_run(make_version("churn", "v1"), make_experiment("alpha"))
    node_id = f"{run.workflow_name}-1234"
    node = {
        "id": node_id,
        "name": f"{run.workflow_name}.check",
        "displayName": "check",
        "type": "Pod",
        "templateName": "check",
        "phase": "Failed",
        "message": "Error (exit code 1)",
        "startedAt": "2026-12-06T01:00:00Z",
        "finishedAt": "2026-12-06T01:00:00Z",
        "outputs": {"exitCode": "1"},
    }
    workflow = {"metadata": {"name": run.workflow_name}, "status": {"nodes": {node_id: node}}}
    (first,) = sync_steps([(run, workflow)])
    Step.objects.filter(pk=first).update(log_fetched=True, artifacts_fetched=True)
    assert sync_steps([(run, workflow)]) == []  # nothing moved: nothing to fetch

    assert mark_rerun(run) == 1
    assert sync_steps([(run, workflow)]) == [first]  # the new attempt, to the second the same
    step = Step.objects.get(pk=first)
    assert (step.phase, step.log_fetched) == (StepPhase.FAILED, False)
