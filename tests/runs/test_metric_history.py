"""Metric history: parsing metric-history.jsonl (good and bad lines, big files), storing it with
a step's outputs (final value in the runs list, notes, the per-run cap), and the Output tab and
compare page that draw it, with their queries pinned."""

from __future__ import annotations

import json
import math

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.runs import metric_history, outputs
from apps.runs.constants import RunState, StepPhase
from apps.runs.metric_history import parse_history
from apps.runs.models import Metric, MetricPoint, Run
from apps.runs.outputs import _store
from apps.runs.visualizations import ParsedMetric
from tests.experiments.builders import make_experiment, make_run, make_step, make_version


def lines(*items: object) -> bytes:
    return "".join((i if isinstance(i, str) else json.dumps(i)) + "\n" for i in items).encode()


# -- parsing (no database) -------------------------------------------------------------------


def test_parse_points_in_file_order_with_default_steps_and_times():
    history = parse_history(
        lines(
            {"name": "loss", "value": 1.0, "step": 0, "time": 1_700_000_000.5},
            {"name": "loss", "value": 0.5},  # no step: previous of this name + 1
            {"name": "acc", "value": 1},  # an int is a number; first of its name: step 0
            {"name": "loss", "value": 0.25, "step": 10.0},
        )
    )
    assert history.notes == []
    got = [(p.name, p.index, p.value) for p in history.points]
    assert got == [("loss", 0, 1.0), ("loss", 1, 0.5), ("acc", 0, 1.0), ("loss", 10, 0.25)]
    assert history.points[0].time.timestamp() == 1_700_000_000.5
    assert history.points[1].time is None
    assert history.last_values() == {"loss": 0.25, "acc": 1.0}


def test_bad_lines_are_skipped_with_one_note_that_names_them():
    raw = lines(
        {"name": "loss", "value": 0.9},
        "not json",
        '{"name": "loss", "value": NaN}',  # what json.dumps writes for float("nan")
        '{"name": "loss", "value": Infinity}',
        {"name": "loss", "value": "0.1"},
        {"name": "loss", "value": True},
        {"name": "bad\nname", "value": 1},
        {"name": "loss", "value": 0.2, "step": -1},
        {"name": "loss", "value": 0.2, "step": 1.5},
        [1, 2],
        "",
        {"name": "loss", "value": 0.8, "time": "yesterday"},  # a bad time costs nothing
    )
    history = parse_history(raw)
    assert [(p.index, p.value) for p in history.points] == [(0, 0.9), (1, 0.8)]
    (note,) = history.notes
    assert note.startswith("metric-history.jsonl: 9 lines skipped (line 2: not JSON; ")
    assert "line 3: loss: value nan is not a finite number" in note
    assert note.endswith("; and 6 more)")


def test_a_huge_file_is_read_up_to_the_limit(monkeypatch):
    monkeypatch.setattr(metric_history, "MAX_HISTORY_BYTES", 1000)
    raw = lines(*({"name": "loss", "value": i / 100, "step": i} for i in range(200)))
    history = parse_history(raw)
    assert 0 < len(history.points) < 200
    assert [p.index for p in history.points] == list(range(len(history.points)))
    assert "is over 0 MiB: only its first part was read" in history.notes[0]
    assert len(history.notes) == 1  # the cut falls between lines: no broken line reported


def test_overlong_line_and_non_utf8_bytes_are_skipped():
    raw = lines({"name": "x" * 5, "value": 1, "pad": "y" * 20_000}) + b'\xff{"name"\n'
    history = parse_history(raw)
    assert history.points == []
    assert "line 1: longer than 10000 characters; line 2: not JSON" in history.notes[0]


# -- storing with the step's outputs -----------------------------------------------------------


@pytest.fixture
def run(db):
    return make_run(make_version(), make_experiment("exp"), state=RunState.SUCCEEDED)


def store(step, raw: bytes, metrics: list[ParsedMetric] | None = None) -> None:
    notes: list[str] = []
    history = parse_history(raw)
    notes += history.notes
    _store(step, "step log", [], metrics or [], notes, history)


def curve(run: Run, name: str) -> list[tuple[int, float]]:
    return list(
        MetricPoint.objects.filter(run=run, name=name)
        .order_by("index")
        .values_list("index", "value")
    )


def test_points_are_stored_and_the_last_is_the_runs_metric(auth_client, run):
    step = make_step(run, "train", StepPhase.SUCCEEDED)
    raw = lines(*({"name": "loss", "value": 1 / (i + 1), "step": i} for i in range(5)))
    store(step, raw + lines({"name": "acc", "value": 0.7}, '{"name": "acc", "value": NaN}'))
    assert curve(run, "loss") == [(i, 1 / (i + 1)) for i in range(5)]
    assert {m.name: m.value for m in Metric.objects.filter(run=run)} == {"loss": 0.2, "acc": 0.7}
    step.refresh_from_db()
    assert step.log.startswith("step log\n[ydpipelines] metric-history.jsonl: 1 line skipped")
    assert "value nan is not a finite number" in step.log
    # The runs list filters and sorts on the last value, as on any metric.
    other = make_run(run.pipeline_version, run.experiment, state=RunState.SUCCEEDED)
    Metric.objects.create(run=other, name="loss", value=0.5)
    response = auth_client.get(reverse("runs:list") + "?m=loss:lt:0.3")
    assert [r.pk for r in response.context["listing"].runs] == [run.pk]
    response = auth_client.get(reverse("runs:list") + "?sort=m:loss")
    assert [r.pk for r in response.context["listing"].runs] == [run.pk, other.pk]


def test_the_kfp_file_keeps_its_value_and_a_second_step_gets_its_own_name(run):
    train = make_step(run, "train", StepPhase.SUCCEEDED)
    store(
        train,
        lines({"name": "loss", "value": 0.9}, {"name": "loss", "value": 0.4}),
        [ParsedMetric(name="loss", value=0.35, format="RAW")],
    )
    assert Metric.objects.get(run=run, name="loss").value == 0.35
    assert curve(run, "loss") == [(0, 0.9), (1, 0.4)]
    tune = make_step(run, "tune", StepPhase.SUCCEEDED)
    store(tune, lines({"name": "loss", "value": 0.3}))
    assert Metric.objects.get(run=run, name="tune/loss").value == 0.3
    assert curve(run, "tune/loss") == [(0, 0.3)]


def test_storing_twice_replaces_the_points(run):
    step = make_step(run, "train", StepPhase.SUCCEEDED)
    store(step, lines({"name": "loss", "value": 1.0}, {"name": "loss", "value": 0.5}))
    type(step).objects.filter(pk=step.pk).update(log_fetched=False, artifacts_fetched=False)
    store(step, lines({"name": "loss", "value": 0.7}))
    assert curve(run, "loss") == [(0, 0.7)]


def test_points_over_the_runs_cap_are_dropped_with_a_note(run, monkeypatch):
    monkeypatch.setattr(outputs, "MAX_POINTS_PER_RUN", 8)
    first = make_step(run, "first", StepPhase.SUCCEEDED)
    store(first, lines(*({"name": "a", "value": i} for i in range(5))))
    second = make_step(run, "second", StepPhase.SUCCEEDED)
    store(second, lines(*({"name": "b", "value": i} for i in range(6))))
    assert MetricPoint.objects.filter(run=run).count() == 8
    assert curve(run, "b") == [(0, 0.0), (1, 1.0), (2, 2.0)]
    # The final value is the last point logged, stored or not.
    assert Metric.objects.get(run=run, name="b").value == 5.0
    second.refresh_from_db()
    assert "metric history: 3 of 6 points not stored (a run keeps at most 8 points)" in second.log


# -- the pages -------------------------------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def page_data(body: str, element_id: str) -> object:
    marker = f'id="{element_id}" type="application/json">'
    return json.loads(body.split(marker)[1].split("</script>")[0])


def test_output_tab_draws_each_history(auth_client, run, media, django_assert_num_queries):
    run.submitted_at = timezone.now()
    run.save(update_fields=["submitted_at"])
    step = make_step(run, "train", StepPhase.SUCCEEDED)
    raw = lines(*({"name": "loss", "value": 2 - i / 10, "step": i} for i in range(5)))
    # A name the runs list could not show is not stored at all (the KFP file's rule).
    store(step, raw + lines({"name": "acc", "value": 0.5}, {"name": "<b>x</b>", "value": 1}))
    # session, user, run, steps, tab counts, metric history, metrics, artifacts, the caller's
    # projects and roles
    with django_assert_num_queries(9):
        response = auth_client.get(run.get_absolute_url() + "?tab=output")
    body = response.content.decode()
    assert "Metric history" in body
    assert 'data-history="0"' in body and 'data-history="1"' in body
    assert "<b>x</b>" not in body and "x</b>" not in body
    data = page_data(body, "metric-history-data")
    assert data == [
        {"name": "acc", "count": 1, "points": [[0, 0.5]]},
        {"name": "loss", "count": 5, "points": [[i, 2 - i / 10] for i in range(5)]},
    ]
    store(make_step(run, "more", StepPhase.SUCCEEDED), raw)
    with django_assert_num_queries(9):
        auth_client.get(run.get_absolute_url() + "?tab=output")


def test_output_tab_without_history_has_no_chart(auth_client, run, media):
    make_step(run, "train", StepPhase.SUCCEEDED)
    body = auth_client.get(run.get_absolute_url() + "?tab=output").content.decode()
    assert "metric-history-data" not in body and "data-history" not in body


def test_compare_overlays_the_runs_curves(auth_client, run, media, django_assert_num_queries):
    other = make_run(run.pipeline_version, run.experiment, state=RunState.SUCCEEDED, name="b")
    third = make_run(run.pipeline_version, run.experiment, state=RunState.SUCCEEDED, name="c")
    for r, scale in ((run, 1.0), (other, 2.0)):
        step = make_step(r, "train", StepPhase.SUCCEEDED)
        store(step, lines(*({"name": "loss", "value": scale / (i + 1)} for i in range(4))))
    url = reverse("compare:compare") + f"?runs={other.pk},{run.pk},{third.pk}"
    # session, user, runs, metrics, artifacts, metric history, the caller's projects and roles
    with django_assert_num_queries(7):
        response = auth_client.get(url)
    body = response.content.decode()
    assert 'data-history="0"' in body and "Metric history" in body
    charts = page_data(body, "compare-data")
    (loss,) = charts["histories"]
    # Curves are keyed by the run's column: `other` is first in the selection.
    assert loss["name"] == "loss"
    assert loss["curves"] == [
        {"run": 0, "points": [[i, 2.0 / (i + 1)] for i in range(4)]},
        {"run": 1, "points": [[i, 1.0 / (i + 1)] for i in range(4)]},
    ]
    assert [r["name"] for r in charts["runs"]][:2] == ["b", run.name]
    assert math.isclose(Metric.objects.get(run=other, name="loss").value, 0.5)


def test_long_curves_are_thinned_for_the_chart(auth_client, run, media, monkeypatch):
    monkeypatch.setattr(metric_history, "MAX_CHART_POINTS", 10)
    step = make_step(run, "train", StepPhase.SUCCEEDED)
    store(step, lines(*({"name": "loss", "value": i, "step": i} for i in range(100))))
    body = auth_client.get(run.get_absolute_url() + "?tab=output").content.decode()
    (series,) = page_data(body, "metric-history-data")
    assert series["count"] == 100 and len(series["points"]) == 10
    assert series["points"][0] == [0, 0.0] and series["points"][-1] == [99, 99.0]
    assert "100 points, 10 drawn" in body
    assert MetricPoint.objects.filter(run=run).count() == 100  # all are stored
