"""FilterSets of the Artifacts and Executions lists (all runs).

Both lists show a facet (artifact kind, step phase) with a count for each value; the counts
follow the other filters but not the facet itself, so a user sees what the other choices hold.
`facet_counts()` answers them in one GROUP BY query."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

import django_filters
from django import forms
from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum

from apps.experiments.models import Experiment
from apps.pipelines.models import Pipeline
from apps.projects.models import default_project
from apps.runs.constants import ArtifactKind, StepPhase
from apps.runs.models import Artifact, ArtifactKindCount, Step, StepPhaseCount
from apps.runs.queries import sort_value_order
from apps.runs.state_counts import kept_by_database

KeptRow = TypeVar("KeptRow", ArtifactKindCount, StepPhaseCount)

# Argo's structural nodes: a DAG or steps template, a group of parallel steps, the Retry node
# over its attempts. They wrap the pods a user thinks of as steps, so they are hidden by default.
BOOKKEEPING_NODE_TYPES = ("DAG", "Steps", "StepGroup", "TaskGroup", "Retry")


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def _run_filter(queryset: QuerySet, prefix: str, value: str) -> QuerySet:
    """A run by its id (full UUID), else by words of its name."""
    run_id = _as_uuid(value)
    if run_id is not None:
        return queryset.filter(**{f"{prefix}run_id": run_id})
    for word in value.split():
        queryset = queryset.filter(**{f"{prefix}run__name__icontains": word})
    return queryset


@dataclass(frozen=True)
class CatalogSort:
    token: str  # "-created", "size"
    column: str
    descending: bool
    nullable: bool


class _CatalogFilter(django_filters.FilterSet):
    """What both lists share: pipeline, experiment and run."""

    pipeline = django_filters.ModelChoiceFilter(
        queryset=Pipeline.objects.order_by("name").only("id", "name"),
        field_name="run__pipeline_version__pipeline",
        empty_label="All pipelines",
    )
    experiment = django_filters.ModelChoiceFilter(
        queryset=Experiment.objects.order_by("name").only("id", "name"),
        field_name="run__experiment",
        empty_label="All experiments",
    )
    run = django_filters.CharFilter(method="filter_run", label="Run")

    facet: str = ""
    # Sort key -> (column, whether it can be null); the lists' pages are keyset pages over
    # (that column, id), in the order of their list indexes (migration 0012).
    sorts: dict[str, tuple[str, bool]] = {}
    default_sort: str = ""

    def __init__(self, *args: Any, project_id: int | None = None, **kwargs: Any) -> None:
        """`project_id`: the project whose rows the list shows (its queryset is narrowed to
        them already); the choices and the stored counts are that project's."""
        super().__init__(*args, **kwargs)
        self.project_id = default_project() if project_id is None else project_id
        for name in ("pipeline", "experiment"):
            field = self.filters[name]
            field.queryset = field.queryset.filter(project_id=self.project_id)

    def filter_run(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return _run_filter(queryset, "", value)

    def chosen_sort(self) -> CatalogSort:
        """The sort asked for, or the list's default when none (or an unknown one) is."""
        self.errors  # noqa: B018 - validates the form: an invalid sort is not applied
        chosen = (self.form.cleaned_data.get("sort") or [self.default_sort])[0]
        key = chosen.lstrip("-")
        if key not in self.sorts:
            chosen, key = self.default_sort, self.default_sort.lstrip("-")
        column, nullable = self.sorts[key]
        return CatalogSort(chosen, column, chosen.startswith("-"), nullable)

    @property
    def qs(self) -> QuerySet:
        """The rows in the list's order: the sort column as `sort_value` (what the keyset
        cursors compare), nulls last either way, ties broken by the id the same way."""
        sort = self.chosen_sort()
        queryset = super().qs.alias(sort_value=F(sort.column))
        return queryset.order_by(*sort_value_order(sort.descending, sort.nullable))

    # The filters the stored counts cannot answer for (they count rows by experiment and facet).
    narrowing: tuple[str, ...] = ("pipeline", "run", "q")

    def stored_facet_counts(self) -> dict[str, int] | None:
        """{facet value: rows} from the counts the database keeps (apps/runs/state_counts.py),
        when no filter narrows the list but an experiment and the facet itself; else None."""
        if not kept_by_database(connection) or any(
            str(self.data.get(name) or "").strip() for name in self.narrowing
        ):
            return None
        return self._stored_counts()

    def _kept_rows(self, model: type[KeptRow]) -> QuerySet[KeptRow]:
        """The kept count rows of the experiment chosen, else of the project's experiments:
        the same rows `qs` keeps (an experiment that does not validate filters nothing)."""
        self.errors  # noqa: B018 - validates the form
        experiment = self.form.cleaned_data.get("experiment")
        if experiment is not None:
            return model.objects.filter(experiment_id=experiment.pk)
        mine = Experiment.objects.filter(project_id=self.project_id).values("id")
        return model.objects.filter(experiment_id__in=mine)

    def _stored_counts(self) -> dict[str, int]:
        raise NotImplementedError

    def facet_counts(self) -> dict[str, int]:
        """{facet value: rows} under every filter but the facet's own, in one query."""
        if not hasattr(self, "_facet_counts"):
            self._facet_counts = self._count_facets()
        return self._facet_counts

    def _count_facets(self) -> dict[str, int]:
        stored = self.stored_facet_counts()
        if stored is not None:
            return stored
        data = self.data.copy()
        data.pop(self.facet, None)
        others = type(self)(data, queryset=self.queryset, project_id=self.project_id)
        rows = others.qs.order_by().values(self.facet).annotate(n=Count("pk"))
        return {row[self.facet]: row["n"] for row in rows}


class ArtifactFilter(_CatalogFilter):
    kind = django_filters.ChoiceFilter(choices=ArtifactKind.choices, empty_label="All kinds")
    q = django_filters.CharFilter(method="search", label="Search")
    sort = django_filters.OrderingFilter(
        fields=(("created_at", "created"), ("size", "size"), ("name", "name")),
        field_labels={"created_at": "Created", "size": "Size", "name": "Name"},
        label="Sort",
    )

    facet = "kind"
    sorts = {"created": ("created_at", False), "size": ("size", False), "name": ("name", False)}
    default_sort = "-created"

    class Meta:
        model = Artifact
        fields: list[str] = []

    def _stored_counts(self) -> dict[str, int]:
        rows = self._kept_rows(ArtifactKindCount).filter(n__gt=0)
        grouped = rows.values_list("kind").annotate(total=Sum("n")).order_by()
        return {kind: n for kind, n in grouped if n}

    def search(self, queryset: QuerySet[Artifact], name: str, value: str) -> QuerySet[Artifact]:
        """Words of the artifact's name or its step's name."""
        for word in value.split():
            queryset = queryset.filter(
                Q(name__icontains=word) | Q(step__display_name__icontains=word)
            )
        return queryset


class ExecutionFilter(_CatalogFilter):
    phase = django_filters.ChoiceFilter(choices=StepPhase.choices, empty_label="All states")
    q = django_filters.CharFilter(method="search", label="Search")
    # A checkbox: absent (unchecked) means "hide the bookkeeping nodes".
    all = django_filters.BooleanFilter(
        method="filter_all", label="Show DAG, Steps and Retry nodes", widget=forms.CheckboxInput
    )
    sort = django_filters.OrderingFilter(
        fields=(("started_at", "started"), ("took", "duration")),
        field_labels={"started_at": "Started", "took": "Duration"},
        label="Sort",
    )

    facet = "phase"
    # Steps that have not started (or not ended) sort last either way.
    sorts = {"started": ("started_at", True), "duration": ("took", True)}
    default_sort = "-started"

    class Meta:
        model = Step
        fields: list[str] = []

    def _stored_counts(self) -> dict[str, int]:
        rows = self._kept_rows(StepPhaseCount)
        if not self.form.cleaned_data.get("all"):
            rows = rows.filter(bookkeeping=False)
        grouped = rows.values_list("phase").annotate(total=Sum("n")).order_by()
        return {phase: n for phase, n in grouped if n}

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        if not getattr(self.form, "cleaned_data", {}).get("all"):
            queryset = queryset.exclude(node_type__in=BOOKKEEPING_NODE_TYPES)
        return super().filter_queryset(queryset)

    def filter_all(self, queryset: QuerySet[Step], name: str, value: bool) -> QuerySet[Step]:
        return queryset  # applied in filter_queryset, since "off" must filter too

    def search(self, queryset: QuerySet[Step], name: str, value: str) -> QuerySet[Step]:
        """Words of the step's name, its template, or its run's name."""
        for word in value.split():
            queryset = queryset.filter(
                Q(display_name__icontains=word)
                | Q(template_name__icontains=word)
                | Q(run__name__icontains=word)
            )
        return queryset
