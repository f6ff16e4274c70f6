"""RunListFilter on its own: each filter, metric predicates, bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import QueryDict
from django.utils import timezone

from apps.recurring.models import RecurringRun
from apps.runs.constants import RunState
from apps.runs.filters import Predicate, RunListFilter
from apps.runs.models import Metric, Run
from tests.experiments.builders import make_experiment, make_run, make_version

pytestmark = pytest.mark.django_db


def names(filterset: RunListFilter) -> set[str]:
    assert filterset.is_valid(), filterset.errors
    return set(filterset.qs.values_list("name", flat=True))


def query(text: str, **kwargs) -> RunListFilter:
    return RunListFilter(QueryDict(text), queryset=Run.objects.all(), **kwargs)


@pytest.fixture
def world():
    v1 = make_version("churn", "v1")
    v2 = make_version("churn", "v2")
    other = make_version("fraud", "v1")
    exp_a = make_experiment("a")
    exp_b = make_experiment("b")
    runs = {
        "good": make_run(v1, exp_a, name="good", state=RunState.SUCCEEDED, description="tuned"),
        "bad": make_run(v2, exp_a, name="bad", state=RunState.FAILED),
        "busy": make_run(other, exp_b, name="busy", state=RunState.RUNNING),
    }
    for run, accuracy, loss in (("good", 0.95, 0.1), ("bad", 0.5, 0.9), ("busy", 0.91, 0.3)):
        Metric.objects.create(run=runs[run], name="accuracy", value=accuracy)
        Metric.objects.create(run=runs[run], name="loss", value=loss)
    return {"v1": v1, "v2": v2, "other": other, "a": exp_a, "b": exp_b, **runs}


def test_no_filter_keeps_all(world):
    assert names(query("")) == {"good", "bad", "busy"}


def test_state_several_at_once(world):
    assert names(query("state=Succeeded")) == {"good"}
    assert names(query("state=Succeeded&state=Running")) == {"good", "busy"}


def test_state_unknown_is_an_error(world):
    filterset = query("state=Nope")
    assert not filterset.is_valid()
    assert any("Nope" in e for e in filterset.clean_errors())


def test_experiment_pipeline_version(world):
    assert names(query(f"experiment={world['b'].pk}")) == {"busy"}
    assert names(query(f"pipeline={world['v1'].pipeline_id}")) == {"good", "bad"}
    assert names(query(f"version={world['v2'].pk}")) == {"bad"}
    assert not query("experiment=999999").is_valid()


def test_version_choices_follow_the_pipeline(world):
    filterset = query(f"pipeline={world['v1'].pipeline_id}")
    labels = [label for _, label in filterset.form.fields["version"].choices if _]
    assert labels and all(label.startswith("churn") for label in labels)


def test_scoped_to_an_experiment_has_no_experiment_filter(world):
    filterset = query("", experiment=world["a"])
    assert "experiment" not in filterset.filters


def test_recurring(world):
    schedule = RecurringRun.objects.create(
        name="nightly",
        experiment=world["a"],
        pipeline=world["v1"].pipeline,
        pipeline_version=world["v1"],
        trigger_type="cron",
        cron="0 3 * * *",
    )
    Run.objects.filter(pk=world["good"].pk).update(recurring_run=schedule)
    assert names(query(f"recurring={schedule.pk}")) == {"good"}
    assert names(query("recurring=any")) == {"good"}
    assert names(query("recurring=none")) == {"bad", "busy"}


def test_created_range_is_inclusive_of_whole_days(world):
    today = timezone.now()
    Run.objects.filter(pk=world["bad"].pk).update(created_at=today - timedelta(days=10))
    day = today.date().isoformat()
    assert names(query(f"created_after={day}")) == {"good", "busy"}
    assert names(query(f"created_before={day}")) == {"good", "bad", "busy"}
    earlier = (today - timedelta(days=5)).date().isoformat()
    assert names(query(f"created_before={earlier}")) == {"bad"}
    assert not query("created_after=yesterday").is_valid()


def test_text_matches_name_description_and_id(world):
    assert names(query("q=goo")) == {"good"}
    assert names(query("q=TUNED")) == {"good"}
    assert names(query(f"q={world['bad'].pk}")) == {"bad"}
    assert names(query(f"q={str(world['busy'].pk)[:8]}")) == {"busy"}
    assert names(query("q=nothing-like-this")) == set()


def test_metric_predicates(world):
    assert names(query("m=accuracy:gt:0.9")) == {"good", "busy"}
    assert names(query("m=accuracy:gt:0.9&m=loss:lte:0.2")) == {"good"}
    assert names(query("m=accuracy:gte:0.5&m=accuracy:lt:0.92")) == {"bad", "busy"}
    assert names(query("m=accuracy:eq:0.5")) == {"bad"}
    # A run without the metric fails the predicate.
    assert names(query("m=f1:gt:0")) == set()


def test_predicates_combine_with_other_filters(world):
    assert names(query("m=accuracy:gt:0.9&state=Running")) == {"busy"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("accuracy>0.9", "write metric:operator:value"),
        ("accuracy:bigger:0.9", "unknown operator “bigger”"),
        ("accuracy:gt:high", "“high” is not a number"),
        ("accuracy:gt:nan", "finite"),
        (":gt:1", "metric name is missing"),
    ],
)
def test_malformed_predicate_is_refused_with_a_message(world, text, message):
    filterset = query(QueryDict("", mutable=True).urlencode() + "m=" + text)
    assert not filterset.is_valid()
    errors = " ".join(filterset.clean_errors())
    assert message in errors and errors.startswith("Metric filters:")


def test_predicate_round_trip():
    predicate = Predicate.parse("val:loss:lte:0.2")
    assert predicate == Predicate("val:loss", "lte", 0.2)
    assert Predicate.parse(predicate.token) == predicate
    assert predicate.label == "val:loss ≤ 0.2"


def test_queryset_without_state_keeps_the_other_filters(world):
    filterset = query("state=Failed&m=accuracy:gt:0.9")
    assert names(filterset) == set()
    rest = set(filterset.queryset_without_state().values_list("name", flat=True))
    assert rest == {"good", "busy"}
