"""Read-side helpers of the run pages: list querysets, graph phases, a task's template."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    F,
    FilteredRelation,
    FloatField,
    Func,
    OrderBy,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.utils import timezone

from apps.runs.constants import StepPhase
from apps.runs.models import STEP_OUTPUTS_PENDING, Metric, Run, RunStateCount, Step
from apps.runs.state_counts import kept_by_database

# What a run row of a list shows; parameters, messages and sync bookkeeping stay behind.
RUN_LIST_FIELDS = (
    "id",
    "name",
    "state",
    "created_at",
    "started_at",
    "finished_at",
    "archived_at",
    "progress_done",
    "progress_total",
    "experiment__id",
    "experiment__name",
    "pipeline_version__id",
    "pipeline_version__name",
    "pipeline_version__pipeline__id",
    "pipeline_version__pipeline__name",
)
# How long after a run's end the page keeps polling for the outputs the worker is still copying.
OUTPUTS_GRACE = timedelta(minutes=2)
# A run whose status Argo has not confirmed for this long is shown as possibly stale.
STALE_AFTER = timedelta(seconds=30)
_ATTEMPT = re.compile(r"^(?P<key>.+)\((?P<n>\d+)\)$")


def run_list_queryset() -> QuerySet[Run]:
    """Runs with their experiment, version and pipeline joined in: one query a page."""
    return (
        Run.objects.select_related("experiment", "pipeline_version__pipeline")
        .only(*RUN_LIST_FIELDS)
        .order_by("-created_at", "-pk")
    )


def run_detail_queryset() -> QuerySet[Run]:
    return Run.objects.select_related(
        "experiment", "pipeline_version__pipeline", "created_by", "cloned_from", "recurring_run"
    )


def _rank(step: Step, keys: set[str]) -> tuple[str, tuple[int, int, int]] | None:
    """Which graph node a Step row stands for, and how good a representative it is (lower is
    better): the node named exactly as the task (a Pod, or the Retry node over its attempts)
    beats an attempt `task(N)`; nearer the top of the workflow beats nested; a later attempt
    beats an earlier one."""
    depth = step.name.count(".")
    if step.display_name in keys:
        return step.display_name, (0, depth, 0)
    match = _ATTEMPT.match(step.display_name)
    if match and match.group("key") in keys:
        return match.group("key"), (1, depth, -int(match.group("n")))
    return None


def best_steps(steps: Iterable[Step], keys: Iterable[str]) -> dict[str, Step]:
    """For each graph node key, the Step row that best shows its state."""
    wanted = set(keys)
    best: dict[str, tuple[tuple[int, int, int], Step]] = {}
    for step in steps:
        ranked = _rank(step, wanted)
        if ranked is None:
            continue
        key, rank = ranked
        if key not in best or rank < best[key][0]:
            best[key] = (rank, step)
    return {key: step for key, (_, step) in best.items()}


def node_phases(run: Run, steps: Iterable[Step], keys: list[str]) -> dict[str, str]:
    """Graph key -> phase. Nodes without a Step are Pending while the run is active, and
    Omitted ("not run") once it is over."""
    chosen = best_steps(steps, keys)
    phases: dict[str, str] = {}
    for key in keys:
        step = chosen.get(key)
        if step is not None:
            phases[key] = step.phase
        else:
            phases[key] = StepPhase.OMITTED if run.is_finished else StepPhase.PENDING
    return phases


def phase_steps_queryset(run: Run) -> QuerySet[Step]:
    """The few columns the graph needs: no logs, inputs or outputs."""
    return Step.objects.filter(run=run).only(
        "id",
        "run_id",
        "node_id",
        "name",
        "display_name",
        "node_type",
        "phase",
        "started_at",
        "finished_at",
        "exit_code",
        "message",
        "log_fetched",
        "artifacts_fetched",
        "outputs_error",
    )


def outputs_pending(run: Run, steps: Iterable[Step]) -> bool:
    """True while a finished step's log and artifacts are still being copied (shortly after the
    run's end), so that the page keeps polling until they are in."""
    if run.finished_at and timezone.now() - run.finished_at > OUTPUTS_GRACE:
        return False
    return any(step.outputs_pending for step in steps)


def outputs_pending_exists() -> Exists:
    """Annotates runs (`outputs_pending=...`) with whether a finished step's outputs are still
    being copied, in the runs' own query. Unlike the pages' outputs_pending(), no grace: the
    API says what is true, and `ydp run --wait` waits for it (to its own timeout)."""
    return Exists(Step.objects.filter(STEP_OUTPUTS_PENDING, run_id=OuterRef("pk")))


@dataclass
class Staleness:
    since: Any  # datetime | None
    reason: str


def staleness(run: Run) -> Staleness | None:
    """Why the page may not show the run's true state, if it may not."""
    if run.sync_error:
        return Staleness(run.last_synced_at or run.submitted_at or run.created_at, run.sync_error)
    if not run.is_active or run.submitted_at is None:
        return None
    last = run.last_synced_at or run.submitted_at
    if timezone.now() - last > STALE_AFTER:
        return Staleness(last, "Argo has not reported on this run since then.")
    return None


def _workflow_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    spec = manifest.get("spec") or {}
    if manifest.get("kind") == "CronWorkflow":
        spec = spec.get("workflowSpec") or {}
    return spec if isinstance(spec, dict) else {}


@dataclass
class TaskConfig:
    task: dict[str, Any]
    template: dict[str, Any]

    @property
    def container(self) -> dict[str, Any]:
        return self.template.get("container") or self.template.get("script") or {}


def task_config(manifest: dict[str, Any], key: str) -> TaskConfig | None:
    """The DAG task (or step) named `key` in the manifest's entrypoint, and its template."""
    spec = _workflow_spec(manifest)
    templates = {t.get("name"): t for t in spec.get("templates") or [] if isinstance(t, dict)}
    entry = templates.get(spec.get("entrypoint")) or {}
    calls: list[dict[str, Any]] = []
    if "dag" in entry:
        calls = [t for t in (entry.get("dag") or {}).get("tasks") or [] if isinstance(t, dict)]
    elif "steps" in entry:
        for group in entry.get("steps") or []:
            calls.extend(s for s in (group if isinstance(group, list) else [group]) if s)
    for call in calls:
        if call.get("name") == key:
            name = call.get("template") or (call.get("templateRef") or {}).get("template")
            return TaskConfig(task=call, template=templates.get(name) or {})
    if key == "onExit" and spec.get("onExit") in templates:
        return TaskConfig(task={"name": key}, template=templates[spec["onExit"]])
    if entry and not calls and entry.get("name") == key:
        return TaskConfig(task={"name": key}, template=entry)
    return None


# -- the runs list: sort, keyset pages, state counts, metric columns ----------------------------
#
# A page is one query: the runs (with experiment, version and pipeline joined in) after or
# before a cursor over (sort value, id), LIMIT size + 1, never OFFSET. A metric sort joins the
# run's row of that metric (the join a predicate on the same metric already made, if any). On
# PostgreSQL the metric rows carry copies of the run's experiment, state and archived flag
# (triggers keep them in step), so a metric filter + sort + state is answered by walking one
# index (metric_list_all / metric_list_experiment) and fetching only the page's runs.

PAGE_SIZES = (10, 20, 50, 100)
DEFAULT_PAGE_SIZE = 20
DEFAULT_SORT = "-created"
MAX_METRIC_COLUMNS = 12
SORT_COLUMNS: dict[str, str] = {
    # sort key -> column heading
    "name": "Run",
    "state": "State",
    "experiment": "Experiment",
    "pipeline": "Pipeline / version",
    "created": "Created",
    "duration": "Duration",
}
_SORT_FIELDS = {
    "name": "name",
    "state": "state",
    "experiment": "experiment__name",
    "pipeline": "pipeline_version__pipeline__name",
    "created": "created_at",
}
METRIC_SORT_PREFIX = "m:"


@dataclass(frozen=True)
class Sort:
    key: str  # a SORT_COLUMNS key, or "m:<metric>"
    descending: bool

    @property
    def metric(self) -> str | None:
        return (
            self.key[len(METRIC_SORT_PREFIX) :] if self.key.startswith(METRIC_SORT_PREFIX) else None
        )

    @property
    def token(self) -> str:
        return ("-" if self.descending else "") + self.key

    @classmethod
    def parse(cls, text: str | None) -> Sort | None:
        """`-created`, `name`, `-m:accuracy`; None when it names no column."""
        text = (text or "").strip()
        descending = text.startswith("-")
        key = text.lstrip("-")
        if key in SORT_COLUMNS or (key.startswith(METRIC_SORT_PREFIX) and len(key) > 2):
            return cls(key, descending)
        return None


def _uuid_text(value: Any) -> str:
    return str(uuid.UUID(str(value)))


def int_id(value: Any) -> int:
    """A cursor's id on the tables with integer keys (steps, artifacts)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("not an integer id")
    return value


@dataclass(frozen=True)
class Cursor:
    """Where a page starts (after) or ends (before): the edge row's sort value and id."""

    value: Any
    id: str

    def encode(self, sort: Sort | None = None) -> str:
        value = self.value
        if isinstance(value, timedelta):
            value = {"us": value // timedelta(microseconds=1)}
        elif hasattr(value, "isoformat"):
            value = {"t": value.isoformat()}
        raw = json.dumps([value, self.id], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(
        cls, token: str | None, sort: Sort | None, parse_id: Callable[[Any], Any] = _uuid_text
    ) -> Cursor | None:
        """The cursor of a link, or None if the token is not one (a hand-edited URL).
        `parse_id` checks the edge row's id (a run's UUID; the catalogues' integers)."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            value, run_id = json.loads(raw)
            run_id = parse_id(run_id)
            if isinstance(value, dict) and "t" in value:
                value = datetime.fromisoformat(value["t"])
            elif isinstance(value, dict) and "us" in value:
                value = timedelta(microseconds=int(value["us"]))
            elif value is not None and not isinstance(value, (str, int, float)):
                return None
        except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
            return None
        if sort is not None and sort.metric is not None and isinstance(value, str):
            return None
        return cls(value, run_id)


@dataclass
class Hints:
    """What the list is restricted to, copied onto metric rows (PostgreSQL only)."""

    archived: bool
    experiment_id: int | None = None
    states: list[str] = field(default_factory=list)
    # The project's experiments, when no one experiment is chosen (None: no restriction).
    experiment_ids: tuple[int, ...] | None = None


_ROW_FIELDS = (
    "id",
    "name",
    "state",
    "created_at",
    "started_at",
    "finished_at",
    "archived_at",
    "progress_done",
    "progress_total",
    "experiment_id",
    "experiment__name",
    "pipeline_version_id",
    "pipeline_version__name",
    "pipeline_version__pipeline_id",
    "pipeline_version__pipeline__name",
)


@dataclass(slots=True)
class Named:
    pk: Any
    name: str
    pipeline: Named | None = None

    @property
    def id(self) -> Any:
        return self.pk


class RunRow:
    """A run of a list page: the columns the table shows, read as a tuple (model instances
    with three related rows each cost more than the page's query)."""

    __slots__ = (
        "archived_at",
        "created_at",
        "experiment",
        "finished_at",
        "metric_cells",
        "name",
        "outputs_pending",
        "pipeline_version",
        "pk",
        "progress_done",
        "progress_total",
        "sort_value",
        "started_at",
        "state",
    )

    def __init__(self, row: tuple[Any, ...]) -> None:
        (
            self.pk,
            self.name,
            self.state,
            self.created_at,
            self.started_at,
            self.finished_at,
            self.archived_at,
            self.progress_done,
            self.progress_total,
            experiment_id,
            experiment_name,
            version_id,
            version_name,
            pipeline_id,
            pipeline_name,
            self.sort_value,
            self.outputs_pending,
        ) = row
        self.experiment = Named(experiment_id, experiment_name)
        self.pipeline_version = Named(version_id, version_name, Named(pipeline_id, pipeline_name))
        self.metric_cells: list[Any] = []

    @property
    def id(self) -> Any:
        return self.pk

    is_active = Run.is_active
    is_finished = Run.is_finished
    duration = Run.duration

    def get_absolute_url(self) -> str:
        return Run.get_absolute_url(self)  # type: ignore[arg-type]


@dataclass
class RunPage:
    runs: list[RunRow]
    next_cursor: str | None
    previous_cursor: str | None


def uses_metric_copies() -> bool:
    return connection.vendor == "postgresql"


def metric_alias(name: str) -> str:
    """The alias of the join to a run's metric `name`, shared by the filters and the sort so
    that a predicate and a sort on the same metric use one join."""
    return "metric_" + uuid.uuid5(uuid.NAMESPACE_OID, name).hex[:12]


def join_metric(queryset: QuerySet[Run], name: str, hints: Hints | None = None) -> QuerySet[Run]:
    """A (LEFT) join to the run's metric `name`: at most one row, by the unique (run, name).

    With hints (PostgreSQL), the join also asks for the metric rows' copies of what the runs
    list is restricted to. That changes no result, since a run that the copies leave out is
    one the list's own conditions on the run leave out too, but it lets the planner walk the
    metric_list_* indexes in value order and stop after a page."""
    alias = metric_alias(name)
    if alias in queryset.query._filtered_relations:
        return queryset
    condition = Q(metrics__name=name)
    if hints is not None and uses_metric_copies():
        condition &= Q(metrics__run_archived=hints.archived)
        if hints.experiment_id is not None:
            condition &= Q(metrics__run_experiment_id=hints.experiment_id)
        elif hints.experiment_ids is not None:
            condition &= Q(metrics__run_experiment_id__in=hints.experiment_ids)
        if hints.states:
            condition &= Q(metrics__run_state__in=hints.states)
    return queryset.alias(**{alias: FilteredRelation("metrics", condition=condition)})


def metric_value(name: str) -> Subquery:
    """The run's value of metric `name` (NULL without it), as a correlated subquery: one probe
    of the unique (run, name) index a run. A metric predicate tested this way adds no
    relation to the page query's join search (see PredicateFilter): PostgreSQL spent 10-45 ms
    planning the page with three metric joins among seven relations, and 1-2 ms running it."""
    rows = Metric.objects.filter(run_id=OuterRef("pk"), name=name).order_by()
    return Subquery(rows.values("value")[:1], output_field=FloatField())


def _sort_expression(
    queryset: QuerySet[Run], sort: Sort, hints: Hints | None
) -> tuple[QuerySet[Run], bool]:
    """The queryset annotated with `sort_value`, and whether that value can be null (false for
    a metric the filters already require)."""
    metric = sort.metric
    if metric is not None:
        alias = metric_alias(metric)
        inner = alias in queryset.query._filtered_relations
        queryset = join_metric(queryset, metric, hints)
        return queryset.annotate(sort_value=F(f"{alias}__value")), not inner
    if sort.key == "duration":
        # The stored column (run_list_active_took_*), not finished - started computed per row.
        return queryset.annotate(sort_value=F("took")), True
    return queryset.annotate(sort_value=F(_SORT_FIELDS[sort.key])), False


def sort_value_order(descending: bool, nullable: bool) -> list[OrderBy]:
    """The order of a keyset list: `sort_value`, then the id the same way."""
    value = F("sort_value")
    if nullable:
        # Runs without the value (no metric, not finished) go last, either way.
        first = OrderBy(value, descending=descending, nulls_last=True)
    else:
        first = OrderBy(value, descending=descending)
    return [first, OrderBy(F("pk"), descending=descending)]


def _beyond(descending: bool, nullable: bool, cursor: Cursor) -> Q:
    """The rows after the cursor in the order (value, id), nulls last."""
    op = "lt" if descending else "gt"
    if cursor.value is None:
        return Q(sort_value__isnull=True, **{f"pk__{op}": cursor.id})
    # The redundant `value <= v` bounds the index scan; the OR picks the ties after the id.
    condition = Q(**{f"sort_value__{op}e": cursor.value}) & (
        Q(**{f"sort_value__{op}": cursor.value}) | Q(**{f"pk__{op}": cursor.id})
    )
    if nullable:
        condition |= Q(sort_value__isnull=True)
    return condition


def _before(descending: bool, nullable: bool, cursor: Cursor) -> Q:
    """The rows before the cursor in the order (value, id), nulls last."""
    op = "gt" if descending else "lt"
    if cursor.value is None:
        return Q(sort_value__isnull=False) | Q(sort_value__isnull=True, **{f"pk__{op}": cursor.id})
    return Q(**{f"sort_value__{op}e": cursor.value}) & (
        Q(**{f"sort_value__{op}": cursor.value}) | Q(**{f"pk__{op}": cursor.id})
    )


def keyset_order(
    queryset: QuerySet,
    descending: bool,
    nullable: bool,
    size: int,
    after: Cursor | None,
    before: Cursor | None,
) -> tuple[QuerySet, bool]:
    """A queryset annotated with `sort_value`, cut to the page after or before a cursor over
    (sort_value, pk), nulls last, LIMIT size + 1; and whether it runs backwards (a `before` page
    is fetched in reverse order and flipped). The runs list and the catalogues share it."""
    backwards = before is not None and after is None
    if backwards:
        queryset = queryset.filter(_before(descending, nullable, before))
        # Reverse order: nulls (last in the list) come first.
        value = F("sort_value")
        first = (
            OrderBy(value, descending=not descending, nulls_first=True)
            if nullable
            else OrderBy(value, descending=not descending)
        )
        order = [first, OrderBy(F("pk"), descending=not descending)]
    else:
        if after is not None:
            queryset = queryset.filter(_beyond(descending, nullable, after))
        order = sort_value_order(descending, nullable)
    return queryset.order_by(*order)[: size + 1], backwards


def page_queryset(
    queryset: QuerySet[Run],
    sort: Sort,
    size: int,
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
    hints: Hints | None = None,
) -> tuple[QuerySet[Run], bool]:
    """The page's query (size + 1 rows, to know if there is more) and whether it runs backwards
    (a `before` page is fetched in reverse order and flipped)."""
    queryset, nullable = _sort_expression(queryset, sort, hints)
    return keyset_order(queryset, sort.descending, nullable, size, after, before)


def fetch_page(
    queryset: QuerySet[Run],
    sort: Sort,
    size: int,
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
    hints: Hints | None = None,
    outputs_pending: bool = False,
    sort_per_run: bool = False,
) -> RunPage:
    """One page of runs, with the cursors of the next and previous pages: one query (two on
    the page where a metric sort passes from the runs with the metric to those without).
    `outputs_pending` fills each row's flag in that same query (the API's rows say it; the
    page's rows leave it None and skip the subquery). `sort_per_run`: a metric sort reads
    each run's value (one probe of the unique (run, name) index) rather than walking the
    metric's index in value order; for a list whose filters leave few runs (few_matches),
    where that walk would read the whole index looking for them."""
    queryset = queryset.annotate(
        outputs_pending=outputs_pending_exists()
        if outputs_pending
        else Value(None, output_field=BooleanField())
    )
    metric = sort.metric
    if metric is not None and metric_alias(metric) not in queryset.query._filtered_relations:
        if sort_per_run:
            # An ORDER BY over a subquery: no index serves it, so PostgreSQL starts from the
            # filters' rows and sorts the few it finds. Runs without the metric come last, by
            # id: the order of _metric_sort_rows' two parts, in one query.
            per_run = queryset.annotate(sort_value=metric_value(metric))
            query, backwards = keyset_order(per_run, sort.descending, True, size, after, before)
            runs = _rows(query)
        else:
            runs, backwards = _metric_sort_rows(queryset, sort, size, after, before, hints)
    else:
        query, backwards = page_queryset(
            queryset, sort, size, after=after, before=before, hints=hints
        )
        runs = _rows(query)
    more = len(runs) > size
    runs = runs[:size]
    if backwards:
        runs.reverse()
        has_next, has_previous = True, more
    else:
        has_next, has_previous = more, after is not None
    next_cursor = previous_cursor = None
    if runs and has_next:
        next_cursor = Cursor(runs[-1].sort_value, str(runs[-1].pk)).encode(sort)
    if runs and has_previous:
        previous_cursor = Cursor(runs[0].sort_value, str(runs[0].pk)).encode(sort)
    return RunPage(runs, next_cursor, previous_cursor)


def _rows(query: QuerySet[Run]) -> list[RunRow]:
    return [RunRow(row) for row in query.values_list(*_ROW_FIELDS, "sort_value", "outputs_pending")]


def _metric_sort_rows(
    queryset: QuerySet[Run],
    sort: Sort,
    size: int,
    after: Cursor | None,
    before: Cursor | None,
    hints: Hints | None,
) -> tuple[list[RunRow], bool]:
    """A metric sort with no filter on the metric, in two parts: the runs with the metric, in
    value order through the metric's index (a LEFT JOIN sorted with NULLS LAST would sort every
    run), then the runs without it, by id. A page takes what it needs from each part; the
    cursor's value is None in the second. Returns the rows in query order and whether that
    order is backwards, as page_queryset does."""
    metric = sort.metric or ""
    alias = metric_alias(metric)
    having = join_metric(queryset, metric, hints).filter(**{f"{alias}__value__isnull": False})
    lacking = queryset.exclude(
        Exists(Metric.objects.filter(run_id=OuterRef("pk"), name=metric))
    ).annotate(sort_value=Value(None, output_field=FloatField()))
    ahead = "lt" if sort.descending else "gt"
    back = "gt" if sort.descending else "lt"

    def lacking_rows(condition: Q, descending: bool, limit: int) -> list[RunRow]:
        order = OrderBy(F("pk"), descending=descending)
        return _rows(lacking.filter(condition).order_by(order)[:limit])

    if before is not None and after is None:
        if before.value is not None:
            query, _ = page_queryset(having, sort, size, before=before, hints=hints)
            return _rows(query), True
        rows = lacking_rows(Q(**{f"pk__{back}": before.id}), not sort.descending, size + 1)
        if len(rows) <= size:
            # Back across the boundary: the last runs with the metric, in reverse order.
            annotated, _ = _sort_expression(having, sort, hints)
            flipped = not sort.descending
            order = [
                OrderBy(F("sort_value"), descending=flipped),
                OrderBy(F("pk"), descending=flipped),
            ]
            rows += _rows(annotated.order_by(*order)[: size + 1 - len(rows)])
        return rows, True
    if after is not None and after.value is None:
        return lacking_rows(Q(**{f"pk__{ahead}": after.id}), sort.descending, size + 1), False
    query, _ = page_queryset(having, sort, size, after=after, hints=hints)
    rows = _rows(query)
    if len(rows) <= size:
        rows += lacking_rows(Q(), sort.descending, size + 1 - len(rows))
    return rows, False


# Counting stops here: past ten thousand runs, "10,000+" says enough, and an exact count over
# a big table would cost more than the page itself (the catalogues' pager and the runs list's
# counts by metric predicates).
COUNT_CAP = 10_000
# Past COUNT_CAP runs meeting the first of several metric predicates, the counts by state are
# lower bounds: the others are probed for this many runs of the first's (_capped_counts).
CAPPED_PROBES = 2_500


@dataclass(frozen=True)
class CountScope:
    """A list restricted by nothing but the archived flag (None: either) and an experiment:
    its state counts are the stored ones (apps/runs/state_counts.py)."""

    archived: bool | None
    experiment_id: int | None
    # The project's experiments, when no one experiment is chosen (None: no restriction).
    experiment_ids: tuple[int, ...] | None = None


def state_counts(
    queryset: QuerySet[Run] | Callable[[], QuerySet[Run]],
    *,
    metric_only: list[tuple[str, dict[str, Any]]] | None = None,
    hints: Hints | None = None,
    scope: CountScope | None = None,
) -> dict[str, int]:
    """Runs per state, in one query. With `scope` (no filter but the tab and an experiment),
    the counts the database keeps: a sum over experiments x states rows. With `metric_only`
    (PostgreSQL: the list is filtered by nothing but the tab, an experiment and conditions on
    metrics, by metric name), from the metrics' indexes alone, without reading the runs, and
    capped (_capped_counts: a sum over COUNT_CAP says "more"). Otherwise a GROUP BY over the
    filtered runs. `queryset` may be a callable, so that it is built only when
    needed."""
    if scope is not None and kept_by_database(connection):
        stored = RunStateCount.objects.all()
        if scope.archived is not None:
            stored = stored.filter(archived=scope.archived)
        if scope.experiment_id is not None:
            stored = stored.filter(experiment_id=scope.experiment_id)
        elif scope.experiment_ids is not None:
            stored = stored.filter(experiment_id__in=scope.experiment_ids)
        grouped = stored.values_list("state").annotate(total=Sum("n")).order_by()
        return {state: n for state, n in grouped if n}
    if metric_only and hints is not None and uses_metric_copies():
        (name, lookups), *others = metric_only
        return _capped_counts(
            _metric_rows(name, lookups, hints),
            # The others are probed per run of the first's, which is in the list's scope.
            [Metric.objects.filter(name=o, **o_lookups) for o, o_lookups in others],
        )
    else:
        runs = queryset() if callable(queryset) else queryset
        grouped = runs.order_by().values_list("state").annotate(n=Count("*"))
    return {state: n for state, n in grouped}


def _metric_rows(name: str, lookups: dict[str, Any], hints: Hints) -> QuerySet[Metric]:
    """The metric rows of `name` meeting `lookups`, in the list's scope (the rows' copies of
    the run's archived flag and experiment: a range of a metric_list_* index)."""
    rows = Metric.objects.filter(name=name, run_archived=hints.archived, **lookups)
    if hints.experiment_id is not None:
        rows = rows.filter(run_experiment_id=hints.experiment_id)
    elif hints.experiment_ids is not None:
        rows = rows.filter(run_experiment_id__in=hints.experiment_ids)
    return rows


class _AmongRuns(Func):
    """`id = ANY(ARRAY(SELECT run_id ...))` (SQLite: `id IN (SELECT ...)`). PostgreSQL
    estimates an ARRAY() of a subquery at a few elements, so it fetches those runs by primary
    key; an IN or a join is estimated from the value column's statistics over every metric's
    rows (a third of 100,000 for accuracy > 0.999, which no run meets) and hashes a scan of
    every run."""

    arg_joiner = " = ANY(ARRAY"
    template = "%(expressions)s)"
    output_field = BooleanField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(compiler, connection, arg_joiner=" IN ", template="%(expressions)s")


def among_predicate_runs(name: str, lookups: dict[str, Any], hints: Hints) -> _AmongRuns:
    """A condition on runs: among those whose metric `name` meets `lookups` (in the hints'
    scope). For a page whose state counts (few_matches) say these are few: the page starts
    from them instead of walking the sort's index."""
    rows = _metric_rows(name, lookups, hints).order_by().values("run_id")
    return _AmongRuns(F("pk"), Subquery(rows))


class CappedCounts(dict[str, int]):
    """Runs per state, exact unless `capped`: then lower bounds (the runs found among the
    first COUNT_CAP + 1 that meet the first condition)."""

    capped: bool = False
    # The rows of the first condition read (its whole range when not capped).
    read: int = 0


# At most this many runs meeting a list's metric predicates (exact counts): the page reads the
# sort metric's value per run of theirs (fetch_page's `sort_per_run`) instead of walking the
# sort's index until 51 of them turn up. Reading a few hundred runs' values costs a few ms;
# the walk, when nearly no run matches, reads all 100,000 entries (2-4 s).
FEW_MATCHES = 1_000


def few_matches(counts: dict[str, int]) -> bool:
    """Whether state counts computed from the metric predicates (CappedCounts) are exact and
    say at most FEW_MATCHES runs meet them, among at most FEW_MATCHES meeting the first one
    (the rows a page driven from it reads: among_predicate_runs)."""
    return (
        isinstance(counts, CappedCounts)
        and not counts.capped
        and counts.read <= FEW_MATCHES
        and sum(counts.values()) <= FEW_MATCHES
    )


def _capped_counts(first: QuerySet[Metric], others: list[QuerySet[Metric]]) -> CappedCounts:
    """Runs per state that have a row in `first` and in each of `others` (metric rows of one
    name and condition each, without the list's scope: a run in `first` is in it), reading at
    most COUNT_CAP + 1 rows of `first`, in one query.

    Each of `others` is probed per run read (metric_run_value: the run's value of that metric
    from the index alone), so the cost is bounded by the cap whatever the number of runs. A
    join of the others' whole index ranges grew with them: for accuracy > 0.8, f1 > 0.8 it
    hashed f1's 59,401 entries at 100k runs (11 ms of PostgreSQL CPU) and 593,742 at 1M (130
    ms), against 28 and 42 ms for 10,001 probes. When `first` has more than COUNT_CAP rows the
    figures are lower bounds anyway ("n+"): then only the first CAPPED_PROBES runs are probed
    (7-10 ms at either size); at most COUNT_CAP rows, every run is, and the counts are exact."""
    try:
        first_rows = first.values_list("run_id", "run_state").order_by()[: COUNT_CAP + 1]
        sql, params = first_rows.query.sql_with_params()
        tests, probe_params = [], []
        for i, other in enumerate(others):
            other_sql, other_params = other.values_list("run_id").order_by().query.sql_with_params()
            tests.append(
                f"EXISTS (SELECT 1 FROM ({other_sql}) AS o{i}(run_id) WHERE o{i}.run_id = d.run_id)"
            )
            probe_params.extend(other_params)
    except EmptyResultSet:  # e.g. a project without experiments
        return CappedCounts()
    matched = " AND ".join(tests) or "TRUE"
    # CASE, not AND: the probes of a run past CAPPED_PROBES in a capped range never run.
    grouped = (
        f"SELECT d.state, COUNT(*) FILTER (WHERE CASE WHEN d.n <= %s OR d.k <= %s"
        f" THEN {matched} ELSE FALSE END), COUNT(*)"
        " FROM (SELECT s.run_id, s.state, ROW_NUMBER() OVER () AS k, COUNT(*) OVER () AS n"
        f" FROM ({sql}) AS s(run_id, state)) AS d GROUP BY d.state"
    )
    with connection.cursor() as cursor:
        cursor.execute(grouped, [COUNT_CAP, CAPPED_PROBES, *probe_params, *params])
        rows = cursor.fetchall()
    counts = CappedCounts((state, n) for state, n, _ in rows if n)
    counts.read = sum(read for _, _, read in rows)
    counts.capped = counts.read > COUNT_CAP
    return counts


_NAMES_CTE = (
    # A probe per distinct metric name through the (name, ...) index, instead of reading
    # every metric row: 20 names among 2,000,000 rows cost 21 index lookups. MIN() is an index
    # probe on both databases (SQLite refuses a parenthesized SELECT ... LIMIT here).
    "WITH RECURSIVE names(name) AS ("
    " SELECT MIN(name) FROM {metric}"
    " UNION ALL"
    " SELECT (SELECT m.name FROM {metric} m WHERE m.name > names.name ORDER BY m.name LIMIT 1)"
    " FROM names WHERE names.name IS NOT NULL)"
)


def metric_names() -> list[str]:
    """The names of all metrics, in one query that skips through the index."""
    sql = _NAMES_CTE.format(metric=Metric._meta.db_table)
    sql += " SELECT name FROM names WHERE name IS NOT NULL"
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


@dataclass
class ListChoices:
    experiments: list[tuple[str, str]]  # (id, name), by name
    versions: list[tuple[str, str, str, str]]  # (id, name, pipeline id, pipeline name)
    recurring: list[tuple[str, str]]  # (id, name), by name
    metric_names: list[str]


def list_choices(project_ids: Sequence[int], experiment_id: int | None = None) -> ListChoices:
    """What the runs list's filters offer (the project's experiments, pipeline versions,
    recurring runs, of the experiment if one is given) and the project's metric names, in one
    query: four lists a page would otherwise pay a round trip each for."""
    from apps.experiments.models import Experiment
    from apps.pipelines.models import Pipeline, PipelineVersion

    experiment = Experiment._meta.db_table
    version, pipeline = PipelineVersion._meta.db_table, Pipeline._meta.db_table
    schedules = Run._meta.get_field("recurring_run").related_model._meta.db_table
    metric, run = Metric._meta.db_table, Run._meta.db_table
    project_ids = list(project_ids) or [0]  # no project: no row
    projects = f"project_id IN ({', '.join(['%s'] * len(project_ids))})"
    mine = f"SELECT id FROM {experiment} WHERE {projects}"
    where = "experiment_id = %s" if experiment_id is not None else f"experiment_id IN ({mine})"
    if uses_metric_copies():
        # Through the metric_list_experiment index: (name, run_experiment_id) probes.
        of_project = f"m.run_experiment_id IN ({mine})"
    else:
        of_project = f"m.run_id IN (SELECT id FROM {run} WHERE experiment_id IN ({mine}))"
    sql = _NAMES_CTE.format(metric=metric) + (
        f" SELECT 'e', CAST(id AS TEXT), name, NULL, NULL, NULL FROM {experiment}"
        f" WHERE {projects}"
        " UNION ALL"
        " SELECT 'v', CAST(v.id AS TEXT), v.name, CAST(p.id AS TEXT), p.name,"
        f" CAST(v.created_at AS TEXT) FROM {version} v JOIN {pipeline} p ON p.id = v.pipeline_id"
        f" WHERE p.{projects}"
        " UNION ALL"
        f" SELECT 'r', CAST(id AS TEXT), name, NULL, NULL, NULL FROM {schedules} WHERE {where}"
        " UNION ALL"
        " SELECT 'm', NULL, name, NULL, NULL, NULL FROM names WHERE name IS NOT NULL"
        # A scalar subquery with LIMIT 1, not EXISTS: PostgreSQL turns an EXISTS into a semi
        # join and may hash every metric row by name (1.6-4.8 s at 2,000,000 rows); this
        # stays one index probe per name (4 ms).
        f" AND (SELECT 1 FROM {metric} m WHERE m.name = names.name AND {of_project} LIMIT 1)"
        " IS NOT NULL"
    )
    params = project_ids * 2 + ([experiment_id] if experiment_id is not None else project_ids)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *project_ids])
        rows = cursor.fetchall()
    experiments, versions, recurring, names = [], [], [], []
    for kind, pk, name, pipeline_id, pipeline_name, created in rows:
        if kind == "e":
            experiments.append((pk, name))
        elif kind == "v":
            # SQLite stores UUIDs as 32 hex digits: give every database's ids one spelling.
            versions.append((str(uuid.UUID(pk)), name, pipeline_id, pipeline_name, created))
        elif kind == "r":
            recurring.append((str(uuid.UUID(pk)), name))
        else:
            names.append(name)
    experiments.sort(key=lambda row: row[1])
    recurring.sort(key=lambda row: row[1])
    # By pipeline name, the newest version first.
    versions.sort(key=lambda row: row[4], reverse=True)
    versions.sort(key=lambda row: row[3])
    return ListChoices(
        experiments=experiments,
        versions=[row[:4] for row in versions],
        recurring=recurring,
        metric_names=sorted(names),
    )


def metric_values(run_ids: list[Any], names: list[str]) -> dict[Any, dict[str, tuple[float, str]]]:
    """run id -> metric name -> (value, format), for the page's runs: one query."""
    values: dict[Any, dict[str, tuple[float, str]]] = {}
    if not run_ids or not names:
        return values
    rows = Metric.objects.filter(run_id__in=run_ids, name__in=names).values_list(
        "run_id", "name", "value", "format"
    )
    for run_id, name, value, fmt in rows:
        values.setdefault(run_id, {})[name] = (value, fmt)
    return values
