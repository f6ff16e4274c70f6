"""The compare page: the selection's rules, parameters side by side with "differences only",
the best metric marked by its rule, artifacts lined up by step and name, queries pinned."""

from __future__ import annotations

import json
import uuid

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from apps.compare.comparison import (
    CompareError,
    compare,
    lower_is_better,
    parse_selection,
)
from apps.runs.constants import RunState
from apps.runs.models import Artifact, Metric
from tests.experiments.builders import make_experiment, make_run, make_step, make_version

pytestmark = pytest.mark.django_db

URL = reverse("compare:compare")


@pytest.fixture
def world():
    """Three finished runs in two experiments and two versions, with metrics and artifacts."""
    v1 = make_version()
    v2 = make_version(name="v2", parameters=[{"name": "epochs", "type": "Integer", "default": 1}])
    a, b = make_experiment("alpha"), make_experiment("beta")
    runs = [
        make_run(v1, a, state=RunState.SUCCEEDED, name="shallow",
                 parameters={"epochs": "5", "lr": "0.1", "shuffle": "true", "label": "target"}),
        make_run(v1, b, state=RunState.SUCCEEDED, name="deep",
                 parameters={"epochs": "9", "lr": "0.1", "shuffle": "true", "label": "target"}),
        make_run(v2, b, state=RunState.FAILED, name="other version", parameters={"epochs": "5"}),
    ]  # fmt: skip
    values = {
        "accuracy": (0.8, 0.9, None),
        "val_loss": (0.4, 0.3, 0.3),
        "rmse": (1.0, 1.0, 1.0),
    }
    for name, per_run in values.items():
        for run, value in zip(runs, per_run, strict=True):
            if value is not None:
                Metric.objects.create(run=run, name=name, value=value)
    for run, cells in zip(runs, ([[5, 1], [2, 7]], [[6, 0], [1, 8]], None), strict=True):
        evaluate = make_step(run, "evaluate", "Succeeded")
        train = make_step(run, "train", "Succeeded")
        if cells:
            matrix = {"labels": ["no", "yes"], "matrix": cells}
            points = {"points": [[0, 0, ""], [0.2, 0.8, "0.5"], [1, 1, ""]]}
            Artifact.objects.create(
                run=run, step=evaluate, name="confusion", kind="confusion_matrix", data=matrix
            )
            Artifact.objects.create(run=run, step=evaluate, name="roc", kind="roc", data=points)
        for step in (evaluate, train):  # every step writes a "notebook-html"
            page = Artifact(run=run, step=step, name="notebook-html", kind="html")
            page.file.save("nb.html", ContentFile(b"<p>hi</p>"))
        notes = Artifact(run=run, step=train, name="notes", kind="markdown")
        notes.file.save("notes.md", ContentFile(f"# {run.name}\n<script>x()</script>".encode()))
        Artifact.objects.create(run=run, step=train, name="model.pkl", kind="file")
    return runs


def _url(runs, **extra: str) -> str:
    query = "&".join(
        [f"runs={','.join(str(r.pk) for r in runs)}"] + [f"{k}={v}" for k, v in extra.items()]
    )
    return f"{URL}?{query}"


# -- the selection -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, message",
    [
        ([str(uuid.uuid4())], "Select at least 2 runs to compare (1 selected)"),
        ([",".join(str(uuid.uuid4()) for _ in range(11))], "Compare at most 10 runs at a time (11"),
        (["abc,def"], "“abc” in runs= is not a run id."),
    ],
)
def test_selection_rules(values, message):
    with pytest.raises(CompareError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_selection(values)


def test_selection_takes_commas_or_repeats_without_duplicates():
    a, b = uuid.uuid4(), uuid.uuid4()
    assert parse_selection([f"{a},{b}", str(a)]) == [a, b]
    assert parse_selection([str(b), str(a)]) == [b, a]


def test_unknown_ids_are_named(world):
    ghost = uuid.uuid4()
    with pytest.raises(CompareError, match=f"No run has the id {ghost}"):
        compare([world[0].pk, ghost])


@pytest.mark.parametrize(
    "name, lower",
    [("val_loss", True), ("RMSE", True), ("error_rate", True), ("mae", True), ("mse", True),
     ("accuracy", False), ("f1", False), ("roc-auc", False), ("precision", False)],
)  # fmt: skip
def test_which_metrics_are_best_low(name, lower):
    assert lower_is_better(name) is lower


# -- the comparison ------------------------------------------------------------------------------


def test_parameters_side_by_side_across_versions(world):
    result = compare([r.pk for r in world])
    rows = {row.name: row for row in result.parameters}
    assert list(rows) == ["epochs", "lr", "shuffle", "label"]  # the versions' declared order
    assert rows["epochs"].values == ["5", "9", "5"] and not rows["epochs"].same
    assert rows["lr"].values == ["0.1", "0.1", None] and not rows["lr"].same
    assert result.differing_parameters == 4
    two = compare([world[0].pk, world[1].pk])
    assert [row.name for row in two.parameters if not row.same] == ["epochs"]


def test_best_metric_is_marked_by_its_rule(world):
    rows = {row.name: row for row in compare([r.pk for r in world]).metrics}
    assert rows["accuracy"].values == [0.8, 0.9, None]
    assert rows["accuracy"].best == {1}  # highest
    assert rows["val_loss"].best == {1, 2}  # lowest, tied
    assert rows["rmse"].best == set()  # all equal: nothing stands out


def test_artifacts_line_up_by_step_and_name(world):
    groups = compare([r.pk for r in world]).groups
    titles = [(g.step, g.name, g.kind, g.count) for g in groups]
    assert titles == [
        ("", "confusion", "confusion_matrix", 2),
        ("", "roc", "roc", 2),
        ("", "notes", "markdown", 3),
        ("evaluate", "notebook-html", "html", 3),
        ("train", "notebook-html", "html", 3),
    ]  # plain files are not compared; rendered notebooks come last, folded
    notes = groups[2]
    assert [item.preview for item in notes.items] == ["markdown"] * 3
    assert "<script>" not in notes.items[0].rendered  # sanitized
    assert groups[0].items[2] is None  # the third run has no confusion matrix


def test_colours_follow_the_runs_everywhere(world):
    result = compare([r.pk for r in reversed(world)])
    assert [c.run.name for c in result.columns] == ["other version", "deep", "shallow"]
    charts = result.charts()
    assert [r["color"] for r in charts["runs"]] == [c.color for c in result.columns]
    assert len({c.color for c in result.columns}) == 3
    roc = charts["rocs"][0]
    assert [curve["run"] for curve in roc["curves"]] == [1, 2]  # the runs that have one
    axes = {axis["name"]: axis for axis in charts["axes"]}
    assert axes["epochs"]["values"] == [5.0, 9.0, 5.0]
    assert axes["label"]["type"] == "category"
    assert "rmse" in axes and axes["accuracy"]["values"] == [None, 0.9, 0.8]


# -- the page ------------------------------------------------------------------------------------


def test_page_shows_everything_with_fixed_queries(auth_client, world, django_assert_num_queries):
    # session, user, runs, metrics, artifacts, metric history
    with django_assert_num_queries(7):
        response = auth_client.get(_url(world[:2]))
    assert response.status_code == 200
    with django_assert_num_queries(7):
        response = auth_client.get(_url(world))
    body = response.content.decode()
    for run in world:
        assert run.get_absolute_url() in body
    assert "Compare 3 runs" in body
    assert "lowest for names with loss, error, rmse" in body
    assert body.count('class="num is-best"') == 3  # accuracy once, val_loss twice
    assert 'sandbox src="/runs/' in body  # HTML artifacts in sandboxed iframes
    data = json.loads(
        body.split('id="compare-data" type="application/json">')[1].split("</script>")[0]
    )
    assert [r["name"] for r in data["runs"]] == ["shallow", "deep", "other version"]


def test_differences_only_works_without_javascript(auth_client, world):
    pair = world[:2]
    full = auth_client.get(_url(pair)).content.decode()
    assert 'class="table compare-table params-table"' in full
    assert f"?runs={pair[0].pk},{pair[1].pk}&amp;diff=1#parameters" in full
    diff = auth_client.get(_url(pair, diff="1")).content.decode()
    assert 'class="table compare-table params-table diff-only"' in diff
    assert 'aria-checked="true"' in diff
    assert f'href="?runs={pair[0].pk},{pair[1].pk}#parameters"' in diff  # the way back


def test_leave_one_out_links(auth_client, world):
    body = auth_client.get(_url(world)).content.decode()
    assert f"{URL}?runs={world[1].pk},{world[2].pk}" in body
    two = auth_client.get(_url(world[:2])).content.decode()
    assert "Leave “shallow” out" not in two  # two is the fewest to compare


def test_bad_selections_answer_400_with_the_reason(auth_client, world):
    response = auth_client.get(f"{URL}?runs={world[0].pk}")
    assert response.status_code == 400
    assert "Select at least 2 runs to compare (1 selected)" in response.content.decode()
    ghost = uuid.uuid4()
    response = auth_client.get(f"{URL}?runs={world[0].pk},{ghost}")
    assert response.status_code == 400
    assert f"No run has the id {ghost}" in response.content.decode()


def test_without_a_selection_the_page_says_how(auth_client):
    response = auth_client.get(URL)
    assert response.status_code == 200
    assert "tick 2 to 10 runs" in response.content.decode()


def test_get_only_and_login_required(client, auth_client, world):
    assert auth_client.post(_url(world)).status_code == 405
    response = Client().get(_url(world))
    assert response.status_code == 302 and "login" in response["Location"]


def test_roc_area_is_computed_for_the_key(world):
    from apps.compare.comparison import roc_auc

    assert roc_auc([[0, 0], [1, 1]]) == pytest.approx(0.5)
    assert roc_auc([[1, 1, ""], [0, 0, ""], [0.2, 0.8, "0.5"]]) == pytest.approx(0.8)
    assert roc_auc([["x", 1]]) is None
    roc = next(g for g in compare([r.pk for r in world]).groups if g.kind == "roc")
    assert roc.items[0].auc == pytest.approx(0.8)
