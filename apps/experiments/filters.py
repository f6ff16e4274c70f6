"""FilterSets for the experiment pages."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from apps.experiments.models import Experiment


class ExperimentFilter(django_filters.FilterSet):
    """The experiments list: a text search over name and description."""

    q = django_filters.CharFilter(method="search", label="Search")

    class Meta:
        model = Experiment
        fields: list[str] = []

    def search(self, queryset: QuerySet[Experiment], name: str, value: str) -> QuerySet[Experiment]:
        for word in value.split():
            queryset = queryset.filter(Q(name__icontains=word) | Q(description__icontains=word))
        return queryset
