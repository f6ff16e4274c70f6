"""FilterSets for the run pages.

RunListFilter is the runs list's: state (several at once), experiment, pipeline, version,
recurring run, created date range, text, and metric predicates (`m=accuracy:gt:0.9`, several).
The select filters take their choices from one query each, made once per request, so that the
form validates and renders without a query per option or per chosen value.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.experiments.models import Experiment
from apps.projects.models import default_project
from apps.runs.constants import RunState
from apps.runs.models import Run
from apps.runs.queries import (
    Hints,
    join_metric,
    list_choices,
    metric_alias,
    metric_value,
    uses_metric_copies,
)

# -- metric predicates ---------------------------------------------------------------------------

OPERATORS: dict[str, tuple[str, str]] = {
    # URL word -> (ORM lookup, what the page shows)
    "gt": ("gt", ">"),
    "gte": ("gte", "≥"),
    "lt": ("lt", "<"),
    "lte": ("lte", "≤"),
    "eq": ("exact", "="),
}
MAX_PREDICATES = 10
_METRIC_NAME = re.compile(r"^\S.{0,199}$")


@dataclass(frozen=True)
class Predicate:
    """One metric condition: `accuracy > 0.9` is Predicate("accuracy", "gt", 0.9)."""

    metric: str
    op: str
    value: float

    @property
    def token(self) -> str:
        """The URL form: accuracy:gt:0.9."""
        return f"{self.metric}:{self.op}:{self.value:g}"

    @property
    def label(self) -> str:
        return f"{self.metric} {OPERATORS[self.op][1]} {self.value:g}"

    @classmethod
    def parse(cls, text: str) -> Predicate:
        """`name:op:value`, or raise ValidationError saying what is wrong with it."""
        text = text.strip()
        parts = text.rsplit(":", 2)
        if len(parts) != 3:
            raise ValidationError(
                f"“{text}” is not a metric filter: write metric:operator:value, "
                "e.g. accuracy:gt:0.9."
            )
        metric, op, raw = (p.strip() for p in parts)
        if not _METRIC_NAME.match(metric):
            raise ValidationError(f"“{text}”: the metric name is missing.")
        if op not in OPERATORS:
            raise ValidationError(
                f"“{text}”: unknown operator “{op}” (use one of {', '.join(OPERATORS)})."
            )
        try:
            value = float(raw)
        except ValueError:
            raise ValidationError(f"“{text}”: “{raw}” is not a number.") from None
        if not math.isfinite(value):
            raise ValidationError(f"“{text}”: the value must be a finite number.")
        return cls(metric, op, value)


class PredicateWidget(forms.Widget):
    """Every `m` of the query string, as a list."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[str]:
        getlist = getattr(data, "getlist", None)
        values = getlist(name) if getlist else data.get(name) or []
        return [values] if isinstance(values, str) else list(values)

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return name not in data


class PredicateField(forms.Field):
    widget = PredicateWidget

    def to_python(self, value: Any) -> list[Predicate]:
        texts = [v for v in (value or []) if v and v.strip()]
        if len(texts) > MAX_PREDICATES:
            raise ValidationError(f"At most {MAX_PREDICATES} metric filters at once.")
        predicates: list[Predicate] = []
        errors: list[ValidationError] = []
        for text in texts:
            try:
                predicate = Predicate.parse(text)
            except ValidationError as error:
                errors.append(error)
                continue
            if predicate not in predicates:
                predicates.append(predicate)
        if errors:
            raise ValidationError(errors)
        return predicates


class PredicateFilter(django_filters.Filter):
    field_class = PredicateField

    def filter(self, qs: QuerySet[Run], value: list[Predicate] | None) -> QuerySet[Run]:
        # A run without the metric fails its predicates (no row to join; a NULL to compare).
        predicates = value or []
        joined = getattr(self.parent, "joined_metrics", None)
        chosen = joined(predicates) if joined else None
        hints = getattr(self.parent, "metric_hints", None)
        for predicate in predicates:
            op = OPERATORS[predicate.op][0]
            if chosen is None or predicate.metric in chosen:
                qs = join_metric(qs, predicate.metric, hints() if hints else None)
                lookup = f"{metric_alias(predicate.metric)}__value__{op}"
                qs = qs.filter(**{lookup: predicate.value})
                continue
            alias = "tested_" + metric_alias(predicate.metric)
            if alias not in qs.query.annotations:
                qs = qs.alias(**{alias: metric_value(predicate.metric)})
            qs = qs.filter(**{f"{alias}__{op}": predicate.value})
        return qs


# -- the runs list -----------------------------------------------------------------------------

RECURRING_NONE = "none"
RECURRING_ANY = "any"
_HEX = re.compile(r"^[0-9a-f-]{4,36}$")
_UUID_DASHES = (8, 13, 18, 23)  # where str(uuid) has its dashes


def _id_prefix_range(word: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The ids that start with `word` (hex digits, with or without the UUID's dashes) as a
    range of the primary key: an index range scan, where a cast of every id to text reads them
    all (and on PostgreSQL keeps the name's trigram index out of the OR)."""
    lowered = word.lower()
    if not _HEX.match(lowered):
        return None
    if any(c == "-" and i not in _UUID_DASHES for i, c in enumerate(lowered)):
        return None  # a dash where no UUID has one: no id starts so
    digits = lowered.replace("-", "")
    if len(digits) > 32:
        return None
    return uuid.UUID(digits.ljust(32, "0")), uuid.UUID(digits.ljust(32, "f"))


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class RunListFilter(django_filters.FilterSet):
    """The runs list's filters. Bound to request.GET; `state` is left out of the state counts."""

    q = django_filters.CharFilter(method="search", label="Search")
    state = django_filters.MultipleChoiceFilter(
        choices=RunState.choices,
        widget=forms.CheckboxSelectMultiple,
        label="State",
        distinct=False,  # one row per run already: no DISTINCT over the page
        method="filter_state",
    )
    experiment = django_filters.ChoiceFilter(
        field_name="experiment_id", label="Experiment", empty_label="All experiments"
    )
    pipeline = django_filters.ChoiceFilter(
        field_name="pipeline_version__pipeline_id", label="Pipeline", empty_label="All pipelines"
    )
    version = django_filters.ChoiceFilter(
        field_name="pipeline_version_id", label="Version", empty_label="All versions"
    )
    recurring = django_filters.ChoiceFilter(
        method="filter_recurring", label="Recurring run", empty_label="Any origin"
    )
    created_after = django_filters.DateFilter(
        method="filter_created_after",
        label="Created from",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    created_before = django_filters.DateFilter(
        method="filter_created_before",
        label="Created to",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    m = PredicateFilter(label="Metric filters")

    class Meta:
        model = Run
        fields: list[str] = []

    def __init__(
        self,
        data: Any = None,
        queryset: QuerySet[Run] | None = None,
        *,
        experiment: Experiment | None = None,
        archived: bool | None = None,
        project_ids: Sequence[int] | None = None,
        sort_metric: str | None = None,
        **kwargs: Any,
    ) -> None:
        """`project_ids`: the projects the list shows (default: the experiment's, else the
        Default project); the choices are theirs, and without an experiment the runs are
        narrowed to their experiments. `sort_metric`: the metric the page is sorted by, if
        any (see joined_metrics)."""
        super().__init__(data, queryset, **kwargs)
        self.sort_metric = sort_metric
        self.scoped_experiment = experiment
        if project_ids is None:
            project_ids = [experiment.project_id if experiment else default_project()]
        self.project_ids = list(project_ids)
        # The runs' archived flag (the tab), when the queryset is limited to one: with it, the
        # metric joins use the copies on the metric rows (see queries.Hints).
        self.archived = archived
        self._without_state = False
        if experiment is not None:
            # Inside an experiment page: the experiment is fixed, not a filter.
            del self.filters["experiment"]
        self._set_choices()

    def _set_choices(self) -> None:
        """The selects' options (and the metric names, for the list): one query in all. They
        go on the form's own fields once it is built: set on the filters, every option would
        be deep-copied with the form class's fields."""
        scoped = self.scoped_experiment.pk if self.scoped_experiment is not None else None
        self.choices = choices = list_choices(self.project_ids, scoped)
        # The project's experiments (the choices list them all): its runs are theirs.
        self.experiment_ids: tuple[int, ...] | None = None
        if scoped is None:
            self.experiment_ids = tuple(int(pk) for pk, _ in choices.experiments)
            if self.queryset is not None:
                self.queryset = self.queryset.filter(experiment_id__in=self.experiment_ids)
        pipelines: dict[str, str] = {}
        for _, _, pipeline_id, pipeline_name in choices.versions:
            pipelines.setdefault(pipeline_id, pipeline_name)
        chosen_pipeline = str(self.data.get("pipeline") or "") if self.data else ""
        self._choices = {
            "experiment": choices.experiments,
            "pipeline": list(pipelines.items()),
            "version": [
                (pk, f"{pipeline_name} · {name}")
                for pk, name, pipeline_id, pipeline_name in choices.versions
                if not chosen_pipeline or chosen_pipeline == pipeline_id
            ],
            "recurring": [
                (RECURRING_NONE, "One-off runs only"),
                (RECURRING_ANY, "Any recurring run"),
                *choices.recurring,
            ],
        }

    @property
    def form(self) -> forms.Form:
        if not hasattr(self, "_form"):
            form = super().form
            for name, options in self._choices.items():
                if name in form.fields:
                    form.fields[name].choices = options  # the field adds its empty label
        return self._form

    # -- methods of the filters --

    def search(self, queryset: QuerySet[Run], name: str, value: str) -> QuerySet[Run]:
        """Every word in the run's name or description, or a (prefix of the) run id."""
        for word in value.split()[:8]:
            condition = Q(name__icontains=word) | Q(description__icontains=word)
            ids = _id_prefix_range(word)
            if ids is not None:
                condition |= Q(id__range=ids)
            queryset = queryset.filter(condition)
        return queryset

    def filter_state(self, queryset: QuerySet[Run], name: str, value: list[str]) -> QuerySet[Run]:
        if not value:
            return queryset
        if self._state_on_joined_metric():
            # The joined predicate's metric rows hold the run's state (a copy the database
            # keeps: Hints.states), so they select these runs already. Said twice, PostgreSQL
            # multiplies the two selectivities: at 1M runs it estimated 63 of 1,528 matching
            # runs for one experiment, and hashed the experiment's 14,003 runs (40-150 ms)
            # instead of walking the metric's index for a page (1.6 ms).
            return queryset
        return queryset.filter(state__in=value)

    def _state_on_joined_metric(self) -> bool:
        """Whether a metric predicate's rows are joined with the list's states (metric_hints
        and joined_metrics): only an inner join of a predicate's metric selects runs."""
        if self._without_state or self.archived is None or not uses_metric_copies():
            return False
        predicates = {p.metric for p in self.predicates}
        joined = self.joined_metrics(self.predicates)
        return bool(predicates) and joined is not None and bool(joined & predicates)

    def filter_recurring(self, queryset: QuerySet[Run], name: str, value: str) -> QuerySet[Run]:
        if value == RECURRING_NONE:
            return queryset.filter(recurring_run__isnull=True)
        if value == RECURRING_ANY:
            return queryset.filter(recurring_run__isnull=False)
        return queryset.filter(recurring_run_id=value)

    def filter_created_after(self, queryset: QuerySet[Run], name: str, value: date) -> QuerySet:
        return queryset.filter(created_at__gte=_day_start(value))

    def filter_created_before(self, queryset: QuerySet[Run], name: str, value: date) -> QuerySet:
        # Inclusive: the whole of the last day.
        return queryset.filter(created_at__lt=_day_start(value + timedelta(days=1)))

    # -- helpers of the list --

    def metric_hints(self) -> Hints | None:
        """What every run of the list shares, for the metric joins (None: nothing known)."""
        if self.archived is None:
            return None
        self.errors  # noqa: B018 - validates the form
        cleaned = self.form.cleaned_data
        states = [] if self._without_state else list(cleaned.get("state") or [])
        return Hints(
            archived=self.archived,
            experiment_id=self.experiment_id(),
            states=states,
            experiment_ids=self.experiment_ids,
        )

    def joined_metrics(self, predicates: list[Predicate]) -> set[str] | None:
        """The metrics whose predicates join the metric rows (None: all of them); the others
        are tested per run (queries.metric_value). The page joins one: the sort's metric (the
        page walks its index in value order), else the first predicate's (the planner may
        start from its index range). Every join is one more relation whose order the planner
        searches: with two predicates and a third metric's sort, planning took 10-45 ms of a
        page query that runs in 1-2 ms. The state counts keep their joins (a GROUP BY over
        every matching run, where a probe per run would cost more than a hash join)."""
        if self._without_state or not predicates:
            return None
        if self.sort_metric is not None:
            return {self.sort_metric}
        return {predicates[0].metric}

    def experiment_id(self) -> int | None:
        """The one experiment the list shows (its page, or the filter), if it is one."""
        if self.scoped_experiment is not None:
            return self.scoped_experiment.pk
        self.errors  # noqa: B018 - validates the form
        chosen = self.form.cleaned_data.get("experiment")
        return int(chosen) if chosen else None

    def queryset_without_state(self) -> QuerySet[Run]:
        """The queryset filtered by every valid filter except the state (the state counts)."""
        self.errors  # noqa: B018 - validates the form
        queryset = self.queryset.all()
        self._without_state = True
        try:
            for name, value in self.form.cleaned_data.items():
                if name != "state":
                    queryset = self.filters[name].filter(queryset, value)
        finally:
            self._without_state = False
        return queryset

    @property
    def predicates(self) -> list[Predicate]:
        self.errors  # noqa: B018
        return list(self.form.cleaned_data.get("m") or [])

    @property
    def states(self) -> list[str]:
        self.errors  # noqa: B018
        return list(self.form.cleaned_data.get("state") or [])

    def clean_errors(self) -> list[str]:
        """The form's errors as sentences naming the filter."""
        out = []
        for name, errors in self.form.errors.items():
            label = self.filters[name].label if name in self.filters else name
            for error in errors:
                out.append(f"{label}: {error}")
        return out
