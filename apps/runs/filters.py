"""FilterSets for the run pages."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from apps.runs.constants import RunState
from apps.runs.models import Run


class RunFilter(django_filters.FilterSet):
    """The runs list: by state, and a text search over run, experiment and pipeline names."""

    state = django_filters.ChoiceFilter(choices=RunState.choices, empty_label="All states")
    q = django_filters.CharFilter(method="search", label="Search")

    class Meta:
        model = Run
        fields: list[str] = []

    def search(self, queryset: QuerySet[Run], name: str, value: str) -> QuerySet[Run]:
        for word in value.split():
            queryset = queryset.filter(
                Q(name__icontains=word)
                | Q(experiment__name__icontains=word)
                | Q(pipeline_version__pipeline__name__icontains=word)
            )
        return queryset
