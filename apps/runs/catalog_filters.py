"""FilterSets of the Artifacts and Executions lists (all runs).

Both lists show a facet (artifact kind, step phase) with a count for each value; the counts
follow the other filters but not the facet itself, so a user sees what the other choices hold.
`facet_counts()` answers them in one GROUP BY query."""

from __future__ import annotations

import uuid

import django_filters
from django import forms
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet

from apps.experiments.models import Experiment
from apps.pipelines.models import Pipeline
from apps.runs.constants import ArtifactKind, StepPhase
from apps.runs.models import Artifact, Step

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

    def filter_run(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return _run_filter(queryset, "", value)

    def facet_counts(self) -> dict[str, int]:
        """{facet value: rows} under every filter but the facet's own, in one query."""
        data = self.data.copy()
        data.pop(self.facet, None)
        others = type(self)(data, queryset=self.queryset)
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

    class Meta:
        model = Artifact
        fields: list[str] = []

    def search(self, queryset: QuerySet[Artifact], name: str, value: str) -> QuerySet[Artifact]:
        """Words of the artifact's name or its step's name."""
        for word in value.split():
            queryset = queryset.filter(
                Q(name__icontains=word) | Q(step__display_name__icontains=word)
            )
        return queryset

    @property
    def qs(self) -> QuerySet[Artifact]:
        # A stable order whatever the sort: ties (same size, same name) break on the id.
        queryset = super().qs
        order = list(queryset.query.order_by) or ["-created_at"]
        return queryset.order_by(*order, "-pk")


def with_duration(queryset: QuerySet[Step]) -> QuerySet[Step]:
    """Annotate `took`: finished - started, null while either is unknown."""
    return queryset.annotate(
        took=ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    )


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

    class Meta:
        model = Step
        fields: list[str] = []

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

    @property
    def qs(self) -> QuerySet[Step]:
        queryset = super().qs
        order = list(queryset.query.order_by) or ["-started_at"]
        # Steps that have not started (or not ended) sort last either way.
        ordering = [
            F(key.lstrip("-")).desc(nulls_last=True)
            if key.startswith("-")
            else F(key).asc(nulls_last=True)
            for key in order
            if isinstance(key, str)
        ]
        return queryset.order_by(*ordering, "-pk")
