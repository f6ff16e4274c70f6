"""What the compare page shows of 2 to 10 runs: their overview, parameters side by side, scalar
metrics with the best value of each marked, chart data, and their artifacts of the same name.

Three queries whatever the number of runs: the runs (with experiment, version and pipeline), their
metrics, their comparable artifacts. Each run keeps one colour everywhere on the page."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse

from apps.runs.constants import ArtifactKind, MetricFormat
from apps.runs.metric_history import compare_series
from apps.runs.models import Artifact, Metric, Run
from apps.runs.previews import prepare
from apps.runs.selection import parse_run_ids

MIN_RUNS, MAX_RUNS = 2, 10
# Distinct on white and for the common colour blindnesses, in the order runs are given.
PALETTE = (
    "#2f5bea",  # blue
    "#e8590c",  # orange
    "#2b8a3e",  # green
    "#c2255c",  # magenta
    "#7048e8",  # violet
    "#0b7285",  # teal
    "#a87b00",  # ochre
    "#495057",  # grey
    "#d6336c",  # pink
    "#5c940d",  # olive
)
# Metrics whose lowest value is best; for every other metric the highest is.
LOWER_IS_BETTER = re.compile(
    r"(loss|error|err$|^err|rmse|mae|mse|mape|logloss|perplexity|latency|duration)", re.IGNORECASE
)
LOWER_IS_BETTER_WORDS = "loss, error, rmse, mae, mse, mape, perplexity, latency, duration"
# Artifacts the page lines up side by side, in this order.
COMPARED_KINDS = (
    ArtifactKind.CONFUSION_MATRIX,
    ArtifactKind.ROC,
    ArtifactKind.TABLE,
    ArtifactKind.IMAGE,
    ArtifactKind.MARKDOWN,
    ArtifactKind.HTML,
)
# Rendered notebooks: heavy, and one per step; the page keeps them folded at the end.
NOTEBOOK_NAMES = frozenset({"notebook-html"})
RUN_FIELDS = (
    "id",
    "name",
    "state",
    "parameters",
    "created_at",
    "started_at",
    "finished_at",
    "archived_at",
    "experiment__id",
    "experiment__name",
    "pipeline_version__id",
    "pipeline_version__name",
    "pipeline_version__parameters",
    "pipeline_version__pipeline__id",
    "pipeline_version__pipeline__name",
)


class CompareError(ValueError):
    """The selection cannot be compared; the message says why."""


def parse_selection(values: Iterable[str]) -> list[uuid.UUID]:
    """The run ids of `?runs=a,b,c` (or repeated `runs=`), in order, without repeats."""
    try:
        ids = parse_run_ids(values, where="in runs=")
    except ValueError as exc:
        raise CompareError(str(exc)) from None
    if len(ids) < MIN_RUNS:
        raise CompareError(
            f"Select at least {MIN_RUNS} runs to compare ({len(ids)} selected): tick them in a "
            "runs list, then press Compare."
        )
    if len(ids) > MAX_RUNS:
        raise CompareError(
            f"Compare at most {MAX_RUNS} runs at a time ({len(ids)} selected): leave some out."
        )
    return ids


def lower_is_better(name: str) -> bool:
    return bool(LOWER_IS_BETTER.search(name))


@dataclass
class Column:
    run: Run
    color: str
    index: int
    remove_url: str = ""


@dataclass
class ParamRow:
    name: str
    values: list[str | None]

    @property
    def same(self) -> bool:
        return len(set(self.values)) == 1


@dataclass
class MetricRow:
    name: str
    values: list[float | None]
    format: str
    lower_better: bool
    best: set[int] = field(default_factory=set)

    @property
    def cells(self) -> list[tuple[float | None, bool]]:
        return [(value, index in self.best) for index, value in enumerate(self.values)]


@dataclass
class ArtifactGroup:
    name: str
    kind: str
    items: list[Artifact | None]
    step: str = ""  # the step that wrote it, when the runs' steps share names
    panels: list[tuple[Column, Artifact | None]] = field(default_factory=list)

    @property
    def folded(self) -> bool:
        return self.name in NOTEBOOK_NAMES

    @property
    def kind_label(self) -> str:
        return ArtifactKind(self.kind).label

    @property
    def count(self) -> int:
        return sum(item is not None for item in self.items)


@dataclass
class Comparison:
    columns: list[Column]
    parameters: list[ParamRow]
    metrics: list[MetricRow]
    groups: list[ArtifactGroup]
    # Metric histories, one chart per name (metric_history.compare_series).
    histories: list[dict[str, Any]] = field(default_factory=list)

    @property
    def shown_groups(self) -> list[ArtifactGroup]:
        return [group for group in self.groups if not group.folded]

    @property
    def folded_groups(self) -> list[ArtifactGroup]:
        return [group for group in self.groups if group.folded]

    @property
    def differing_parameters(self) -> int:
        return sum(not row.same for row in self.parameters)

    def charts(self) -> dict[str, Any]:
        """The data compare.js draws: runs with their colours, the metrics, parallel axes."""
        runs = [
            {"id": str(c.run.pk), "name": c.run.name, "color": c.color, "short": f"#{c.index + 1}"}
            for c in self.columns
        ]
        metrics = [
            {"name": row.name, "values": row.values, "lowerBetter": row.lower_better}
            for row in self.metrics
        ]
        axes: list[dict[str, Any]] = []
        for row in self.parameters:
            if row.same:
                continue  # an axis on which every run sits at one point tells nothing
            numbers = [_number(value) for value in row.values]
            if all(n is not None for n in numbers):
                axes.append({"name": row.name, "kind": "param", "type": "value", "values": numbers})
            else:
                categories = sorted({"—" if v is None else v for v in row.values})
                axes.append(
                    {
                        "name": row.name,
                        "kind": "param",
                        "type": "category",
                        "categories": categories,
                        "values": ["—" if v is None else v for v in row.values],
                    }
                )
        for row in self.metrics:
            if sum(v is not None for v in row.values) >= 2:
                axes.append(
                    {"name": row.name, "kind": "metric", "type": "value", "values": row.values}
                )
        rocs = [
            {
                "name": f"{group.step}/{group.name}",
                "curves": [
                    {"run": index, "points": item.data.get("points") or []}
                    for index, item in enumerate(group.items)
                    if item is not None
                ],
            }
            for group in self.groups
            if group.kind == ArtifactKind.ROC
        ]
        return {
            "runs": runs,
            "metrics": metrics,
            "axes": axes,
            "rocs": rocs,
            "histories": self.histories,
        }


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def roc_auc(points: list[Any]) -> float | None:
    """The area under a ROC curve of [fpr, tpr, ...] points (trapezoids, sorted by fpr)."""
    try:
        pairs = sorted((float(p[0]), float(p[1])) for p in points)
    except (TypeError, ValueError, IndexError):
        return None
    if len(pairs) < 2:
        return None
    return sum((x2 - x1) * (y1 + y2) / 2 for (x1, y1), (x2, y2) in itertools.pairwise(pairs))


def load_runs(ids: list[uuid.UUID], runs: QuerySet[Run] | None = None) -> list[Run]:
    """The runs in the order given, among `runs` (the caller's; default: all); raises
    CompareError naming the ids that match no run (another project's run is no run)."""
    runs = Run.objects.all() if runs is None else runs
    found = {
        run.pk: run
        for run in runs.filter(pk__in=ids)
        .select_related("experiment", "pipeline_version__pipeline")
        .only(*RUN_FIELDS)
    }
    missing = [str(run_id) for run_id in ids if run_id not in found]
    if missing:
        raise CompareError(
            f"No run has the id{'s' if len(missing) > 1 else ''} {', '.join(missing)}: "
            "it may have been deleted. Compare the others."
        )
    return [found[run_id] for run_id in ids]


def _parameter_rows(runs: list[Run]) -> list[ParamRow]:
    """One row per parameter name, in the order the versions declare them, then the rest."""
    names: list[str] = []
    for run in runs:
        declared = [p.get("name") for p in run.pipeline_version.parameters or []]
        for name in [*declared, *sorted(run.parameters or {})]:
            if name and name not in names:
                names.append(name)
    rows = []
    for name in names:
        values = []
        for run in runs:
            value = (run.parameters or {}).get(name)
            values.append(None if value is None else str(value))
        rows.append(ParamRow(name=name, values=values))
    return rows


def _metric_rows(runs: list[Run], metrics: Iterable[Metric]) -> list[MetricRow]:
    position = {run.pk: index for index, run in enumerate(runs)}
    rows: dict[str, MetricRow] = {}
    for metric in metrics:
        row = rows.get(metric.name)
        if row is None:
            row = rows[metric.name] = MetricRow(
                name=metric.name,
                values=[None] * len(runs),
                format=metric.format or MetricFormat.RAW,
                lower_better=lower_is_better(metric.name),
            )
        row.values[position[metric.run_id]] = metric.value
    for row in rows.values():
        present = [v for v in row.values if v is not None]
        if len(present) >= 2 and len(set(present)) > 1:
            best = min(present) if row.lower_better else max(present)
            row.best = {i for i, v in enumerate(row.values) if v == best}
    return sorted(rows.values(), key=lambda row: row.name.lower())


def _artifact_groups(runs: list[Run], artifacts: Iterable[Artifact]) -> list[ArtifactGroup]:
    """Artifacts lined up by step and name (steps of one pipeline share names: several steps
    may each write a "notebook-html"); a run with several of one key shows its latest."""
    position = {run.pk: index for index, run in enumerate(runs)}
    groups: dict[tuple[str, str], ArtifactGroup] = {}
    for artifact in sorted(artifacts, key=lambda a: (a.created_at, a.pk)):
        step = artifact.step.display_name if artifact.step_id else ""
        key = (step, artifact.name)
        group = groups.get(key)
        if group is None:
            group = groups[key] = ArtifactGroup(
                name=artifact.name, kind=artifact.kind, items=[None] * len(runs), step=step
            )
        elif group.kind != artifact.kind:
            continue  # the same name for another kind of thing: not comparable
        group.items[position[artifact.run_id]] = artifact
    # A name written by one step only needs no step to tell it apart.
    steps_per_name: dict[str, int] = {}
    for _step, name in groups:
        steps_per_name[name] = steps_per_name.get(name, 0) + 1
    ordered = list(groups.values())  # first written first: the steps' order
    for group in ordered:
        if steps_per_name[group.name] == 1:
            group.step = ""
    kind_order = {kind: index for index, kind in enumerate(COMPARED_KINDS)}
    rank = {id(group): index for index, group in enumerate(ordered)}
    return sorted(ordered, key=lambda g: (g.folded, kind_order.get(g.kind, 99), rank[id(g)]))


def _first(group: ArtifactGroup) -> Artifact:
    return next(item for item in group.items if item is not None)


def compare(
    ids: list[uuid.UUID], *, base_url: str = "", visible: QuerySet[Run] | None = None
) -> Comparison:
    """Everything the page shows, of the runs among `visible`. Raises CompareError for ids
    that match no run."""
    runs = load_runs(ids, visible)
    base_url = base_url or reverse("compare:compare")
    columns = []
    for index, run in enumerate(runs):
        others = [str(r.pk) for r in runs if r.pk != run.pk]
        remove = f"{base_url}?runs={','.join(others)}" if len(others) >= MIN_RUNS else ""
        columns.append(Column(run=run, color=PALETTE[index], index=index, remove_url=remove))
    metrics = Metric.objects.filter(run_id__in=ids).only("run_id", "name", "value", "format")
    artifacts = (
        Artifact.objects.filter(run_id__in=ids, kind__in=COMPARED_KINDS)
        .exclude(name="mlpipeline-metrics")
        .select_related("step")
        .only(
            "id",
            "run_id",
            "name",
            "kind",
            "file",
            "size",
            "media_type",
            "data",
            "created_at",
            "step_id",
            "step__display_name",
        )
    )
    groups = _artifact_groups(runs, artifacts)
    for group in groups:
        # Markdown and tables are read from storage here; charts carry their data inline.
        prepare([item for item in group.items if item is not None], full=True)
        group.panels = list(zip(columns, group.items, strict=True))
        if group.kind == ArtifactKind.ROC:
            for item in group.items:
                if item is not None:
                    item.auc = roc_auc(item.data.get("points") or [])
    return Comparison(
        columns=columns,
        parameters=_parameter_rows(runs),
        metrics=_metric_rows(runs, metrics),
        groups=groups,
        histories=compare_series([run.pk for run in runs]),
    )
