"""Names are unique within a project, so a caller in two projects names the project: the
`project` filter of the pipelines and experiments lists, a run's pipeline looked up in its
experiment's project, and `ydp --project`."""

from __future__ import annotations

import pytest

from apps.experiments.models import Experiment
from apps.pipelines.services import create_version
from apps.projects.models import Membership, Project
from tests.api.conftest import WORKFLOW

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(user):
    """alice owns the Default project and "team-b"; each has a pipeline "hello" and an
    experiment "nightly"."""
    default = Project.objects.get(slug="default")
    b = Project.objects.create(name="Team B", slug="team-b")
    Membership.objects.create(project=b, user=user, role="owner")
    found = {}
    for project in (default, b):
        version = create_version(
            upload_name="hello.yaml", data=WORKFLOW, pipeline_name="hello", project_id=project.pk
        )
        experiment = Experiment.objects.create(name="nightly", project=project)
        found[project.slug] = (project, version, experiment)
    return found


def test_the_lists_narrow_to_a_project_by_slug_or_id(writer, two):
    b, version_b, experiment_b = two["team-b"]
    both = writer.get("/api/v1/pipelines", {"name": "hello"}).json()
    assert both["count"] == 2
    for ref in ("team-b", str(b.pk)):
        mine = writer.get("/api/v1/pipelines", {"name": "hello", "project": ref}).json()
        assert [p["id"] for p in mine["items"]] == [version_b.pipeline_id]
        experiments = writer.get("/api/v1/experiments", {"name": "nightly", "project": ref})
        assert [e["id"] for e in experiments.json()] == [experiment_b.pk]
    unknown = writer.get("/api/v1/pipelines", {"project": "nope"})
    assert unknown.status_code == 404 and unknown.json()["field"] == "project"


def test_a_run_by_pipeline_name_takes_the_experiments_project(writer, two):
    for slug in ("default", "team-b"):
        _, version, experiment = two[slug]
        body = {"version": "hello:v1", "experiment": str(experiment.pk)}
        response = writer.post("/api/v1/runs", body, "application/json")
        assert response.status_code == 201, response.content
        assert response.json()["pipeline"]["id"] == version.pipeline_id


def test_ydp_takes_the_project_from_its_option_or_the_environment(monkeypatch):
    import sys

    from tests.api.conftest import CLIENT

    monkeypatch.syspath_prepend(str(CLIENT))
    sys.modules.pop("ydp.cli", None)
    from ydp.cli import parser

    run = parser().parse_args(["run", "hello", "-e", "nightly", "--project", "team-b"])
    assert run.project == "team-b"
    monkeypatch.setenv("YDP_PROJECT", "7")
    assert parser().parse_args(["upload", "p.yaml"]).project == "7"
    monkeypatch.delenv("YDP_PROJECT")
    assert parser().parse_args(["upload", "p.yaml"]).project == ""
