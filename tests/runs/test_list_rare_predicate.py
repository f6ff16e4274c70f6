"""A runs list filtered by metric predicates that few runs meet, sorted by another metric
(issue 14): the page starts from the predicate's runs and reads each one's sort value
(fetch_page's sort_per_run) instead of walking the sort's index. The pages are the same as
the walk's: same rows, same order, same cursors, both ways."""

from __future__ import annotations

import pytest

from apps.runs.constants import RunState
from apps.runs.models import Metric
from apps.runs.queries import (
    Cursor,
    Hints,
    Sort,
    among_predicate_runs,
    fetch_page,
    metric_value,
    run_list_queryset,
)
from tests.experiments.builders import make_experiment, make_run, make_version

pytestmark = pytest.mark.django_db


def _fill() -> None:
    """24 runs; 12 with accuracy > 0.9, among which ties on auc and 2 runs without auc."""
    version, experiment = make_version(), make_experiment()
    metrics = []
    for i in range(24):
        run = make_run(version, experiment, name=f"r{i:02d}", state=RunState.SUCCEEDED)
        metrics.append(Metric(run=run, name="accuracy", value=0.95 if i % 2 else 0.5 + i / 100))
        if i % 7 != 3:
            metrics.append(Metric(run=run, name="auc", value=round((i * 37 % 11) / 10, 1)))
    Metric.objects.bulk_create(metrics)


def _pages(sort: Sort, per_run: bool) -> tuple[list[list[str]], list[list[str]]]:
    """Every page forwards (following next cursors), then backwards from the last one
    (following previous cursors): the run names of each."""
    hints = Hints(archived=False)
    runs = run_list_queryset().filter(archived_at__isnull=True)
    runs = runs.alias(tested=metric_value("accuracy")).filter(tested__gt=0.9)
    if per_run:
        runs = runs.filter(among_predicate_runs("accuracy", {"value__gt": 0.9}, hints))

    def page(**cursor: Cursor | None):
        return fetch_page(runs, sort, 4, hints=hints, sort_per_run=per_run, **cursor)

    forwards, backwards = [], []
    current = page()
    forwards.append([r.name for r in current.runs])
    while current.next_cursor:
        current = page(after=Cursor.decode(current.next_cursor, sort))
        forwards.append([r.name for r in current.runs])
    while current.previous_cursor:
        current = page(before=Cursor.decode(current.previous_cursor, sort))
        backwards.append([r.name for r in current.runs])
    return forwards, backwards


@pytest.mark.parametrize("token", ["-m:auc", "m:auc"])
def test_pages_read_per_run_are_the_walks_pages(token):
    _fill()
    sort = Sort.parse(token)
    walked = _pages(sort, per_run=False)
    forwards, backwards = walked
    # 12 runs over 3 pages, the 2 without auc last (by id, the third page crossing over to
    # them), and back to the first page.
    assert [len(p) for p in forwards] == [4, 4, 4]
    assert backwards == forwards[-2::-1]
    assert _pages(sort, per_run=True) == walked
