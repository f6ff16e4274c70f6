"""FilterSets for the pipeline pages."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from apps.pipelines.models import Pipeline


class PipelineFilter(django_filters.FilterSet):
    """The pipelines list: a text search over name and description, and a column sort.

    Works on the annotated queryset of `views.pipeline_queryset` (version_count, updated_at)."""

    q = django_filters.CharFilter(method="search", label="Search")
    sort = django_filters.OrderingFilter(
        fields=(
            ("name", "name"),
            ("version_count", "versions"),
            ("updated_at", "updated"),
        ),
        label="Sort",
    )

    class Meta:
        model = Pipeline
        fields: list[str] = []

    def search(self, queryset: QuerySet[Pipeline], name: str, value: str) -> QuerySet[Pipeline]:
        # Every word must appear in the name or the description, in any order.
        for word in value.split():
            queryset = queryset.filter(Q(name__icontains=word) | Q(description__icontains=word))
        return queryset
