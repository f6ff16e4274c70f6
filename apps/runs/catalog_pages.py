"""Keyset pages of the catalogues (Executions, Artifacts): a page is the rows after (or before)
a cursor over (sort value, id), LIMIT size + 1, read as dicts of the columns the table shows
(no model instances), walking the list indexes of migration 0012 whatever the depth.

The cursor rule is the runs list's (apps/runs/queries.py: Cursor, keyset_order); here a
cursor's value is also checked against the sort's column, so that a hand-edited or stale link
shows the first page with a notice instead of failing in the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import models
from django.http import HttpRequest

from apps.runs.catalog_filters import CatalogSort
from apps.runs.list_views import ListUrls
from apps.runs.queries import COUNT_CAP, Cursor, int_id, keyset_order

PAGE_SIZES = (10, 20, 50, 100)
DEFAULT_PAGE_SIZE = 20
BAD_CURSOR = "That page link is out of date or was changed: here is the first page."
# Query keys that are not filters: the pager's own, and the OFFSET pages' old `page`.
_PAGER_KEYS = ("after", "before", "page")


@dataclass
class CatalogPage:
    rows: list[dict[str, Any]]
    size: int
    sort: CatalogSort
    count: int
    capped: bool
    next_url: str | None = None
    previous_url: str | None = None
    first_url: str | None = None
    size_urls: list[tuple[int, str]] = field(default_factory=list)
    # Sort key -> its header's link, aria-sort and mark.
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    notice: str = ""
    cap: int = COUNT_CAP


def page_size(request: HttpRequest) -> int:
    raw = request.GET.get("size", "")
    return int(raw) if raw.isdigit() and int(raw) in PAGE_SIZES else DEFAULT_PAGE_SIZE


def _value_type(model: type[models.Model], column: str) -> type | tuple[type, ...]:
    """The Python type a cursor's value must have to be compared with `column`."""
    model_field = model._meta.get_field(column)
    if isinstance(model_field, models.GeneratedField):  # `took`: computed by the database
        model_field = model_field.output_field
    if isinstance(model_field, models.DateTimeField):
        return datetime
    if isinstance(model_field, models.DurationField):
        return timedelta
    if isinstance(model_field, models.IntegerField):
        return int
    return str


def _cursor(token: str | None, model: type[models.Model], sort: CatalogSort) -> Cursor | None:
    """The link's cursor if it fits the sort (its value of the column's type, or null where
    the column can be), else None."""
    cursor = Cursor.decode(token, None, parse_id=int_id)
    if cursor is None:
        return None
    value = cursor.value
    if value is None:
        return cursor if sort.nullable else None
    if isinstance(value, bool) or not isinstance(value, _value_type(model, sort.column)):
        return None
    if isinstance(value, datetime) and value.tzinfo is None:
        return None
    return cursor


def _count(filterset: Any) -> tuple[int, bool]:
    """The rows and whether the count stopped at the cap: exact from the stored facet counts when
    they answer (no filter but the facet), else a COUNT over at most COUNT_CAP + 1 rows."""
    stored = filterset.stored_facet_counts()
    if stored is None:
        count = filterset.qs.order_by()[: COUNT_CAP + 1].count()
        return min(count, COUNT_CAP), count > COUNT_CAP
    chosen = filterset.form.cleaned_data.get(filterset.facet)
    filterset._facet_counts = stored  # the facet box shows the same, without a query
    return (stored.get(chosen, 0) if chosen else sum(stored.values())), False


def catalog_page(
    request: HttpRequest, filterset: Any, base_url: str, columns: tuple[str, ...]
) -> CatalogPage:
    """One keyset page of a catalogue's filtered rows (`columns` of each, as a dict), its
    count and the links of the pager, the page sizes and the sort headers: two queries at most
    (the page; the count when the stored counts do not answer)."""
    sort = filterset.chosen_sort()
    model = filterset._meta.model
    size = page_size(request)
    raw_after, raw_before = request.GET.get("after"), request.GET.get("before")
    after = _cursor(raw_after, model, sort)
    before = _cursor(raw_before, model, sort) if after is None else None
    # `page=N`: a link from before the keyset pages (bookmarks, notes) that meant an offset.
    old_page = request.GET.get("page", "1") not in ("", "1") and not (raw_after or raw_before)
    notice = (
        BAD_CURSOR
        if (raw_after and after is None) or (raw_before and not after and not before) or old_page
        else ""
    )
    query, backwards = keyset_order(
        filterset.qs, sort.descending, sort.nullable, size, after, before
    )
    rows = list(query.values(*columns))
    if not rows and (after or before):
        # Nothing left past a cursor whose rows were deleted since: the first page, not an
        # empty list that would read "no executions yet".
        after = before = None
        notice = BAD_CURSOR
        query, backwards = keyset_order(
            filterset.qs, sort.descending, sort.nullable, size, None, None
        )
        rows = list(query.values(*columns))
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
        has_next, has_previous = True, more
    else:
        has_next, has_previous = more, after is not None
    count, capped = _count(filterset)
    params = [(k, v) for k, v in request.GET.items() if k not in _PAGER_KEYS and v]
    urls = ListUrls(base_url, params)

    def cursor_of(row: dict[str, Any]) -> str:
        return Cursor(row[sort.column], row["id"]).encode()

    page = CatalogPage(rows, size, sort, count, capped)
    page.notice, page.cap = notice, COUNT_CAP
    if rows and has_next:
        page.next_url = urls.url(after=cursor_of(rows[-1]))
    if rows and has_previous:
        page.previous_url = urls.url(before=cursor_of(rows[0]))
        page.first_url = urls.url()
    page.size_urls = [(n, urls.url(size=n)) for n in PAGE_SIZES]
    for key in filterset.sorts:
        # A column's link sorts by it (ascending), or flips the order it is sorted in.
        state = (
            "ascending" if sort.token == key else "descending" if sort.token == f"-{key}" else ""
        )
        page.headers[key] = {
            "url": urls.url(sort=f"-{key}" if state == "ascending" else key),
            "aria": state,
            "mark": {"ascending": "▲", "descending": "▼"}.get(state, ""),
        }
    return page
