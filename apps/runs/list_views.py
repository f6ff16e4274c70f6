"""The runs list: filters (RunListFilter), state counts, metric columns and predicates, sort by
any column or metric, keyset pages, Active / Archived tabs; HTMX swaps the table alone.

A page costs a fixed number of queries whatever its size: session, user, the filter choices
(experiments; pipelines with versions; recurring runs), the metric names, the state counts, the
page itself, and the page's metric values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET
from django_htmx.http import HTMX_STOP_POLLING, push_url

from apps.experiments.models import Experiment
from apps.projects import scope
from apps.runs import queries
from apps.runs.constants import RunState
from apps.runs.filters import OPERATORS, Predicate, RunListFilter
from apps.runs.models import Run
from apps.runs.queries import (
    DEFAULT_PAGE_SIZE,
    DEFAULT_SORT,
    MAX_METRIC_COLUMNS,
    PAGE_SIZES,
    SORT_COLUMNS,
    Cursor,
    Sort,
)
from ydpipelines.htmx import HtmxHttpRequest

# The filters' query-string names, in the order a canonical URL lists them.
FILTER_PARAMS = (
    "q",
    "state",
    "experiment",
    "pipeline",
    "version",
    "recurring",
    "created_after",
    "created_before",
    "m",
)

# The filters a narrow screen folds under "More filters" (search and state stay in view).
FOLDED_PARAMS = (
    "experiment",
    "pipeline",
    "version",
    "recurring",
    "created_after",
    "created_before",
)


@dataclass
class Column:
    key: str
    label: str
    sort_url: str
    sorted: str  # "", "asc" or "desc"
    numeric: bool = False
    metric: bool = False


@dataclass
class Listing:
    """Everything the table partial shows."""

    runs: list[Run]
    columns: list[Column]  # the fixed columns, then the metric columns
    metric_columns: list[str]
    total: int
    capped: bool  # the counts are lower bounds (queries.CappedCounts): "8,463+"
    state_counts: list[tuple[str, int, bool]]  # (state, count, checked)
    metric_names: list[str]
    predicates: list[tuple[Predicate, str]]  # each with the URL without it
    errors: list[str]
    sort: Sort
    size: int
    size_urls: list[tuple[int, str]]
    column_urls: list[tuple[str, bool, str]]  # (metric, shown, URL toggling it)
    next_url: str | None
    previous_url: str | None
    first_url: str | None
    hidden: list[tuple[str, str]]  # what the filter form must carry: sort, size, columns, m
    filtered: bool
    folded_filters: int  # how many of the filters under "More filters" are set
    archived: bool | None
    compare_url: str | None
    hide_experiment: bool
    bulk_url: str | None  # archive (Active) or restore (Archived) the selected runs, by POST
    bulk_label: str
    delete_url: str | None  # Archived only: the confirmation page of deleting the selected runs
    here: str  # the canonical URL, where a bulk action comes back to
    base_url: str
    clear_url: str  # the list without any filter, sort or column (the page's tab kept)
    keep: tuple[tuple[str, str], ...]
    operators: list[tuple[str, str]]

    @property
    def count_cap(self) -> int:
        """Where the counts by metric predicates stop (the "+" of a capped count)."""
        return queries.COUNT_CAP


def _metric_columns(raw: QueryDict, names: list[str]) -> list[str]:
    chosen: list[str] = []
    known = set(names)
    for value in raw.getlist("metrics"):
        for name in value.split(","):
            name = name.strip()
            if name in known and name not in chosen:
                chosen.append(name)
    return chosen[:MAX_METRIC_COLUMNS]


def _added_predicate(raw: QueryDict) -> str | None:
    """The predicate of the form's "add" row (m_name, m_op, m_value) as `name:op:value`; an
    incomplete row adds nothing."""
    name = (raw.get("m_name") or "").strip()
    value = (raw.get("m_value") or "").strip()
    op = (raw.get("m_op") or "gt").strip()
    if not name or not value:
        return None
    return f"{name}:{op}:{value}"


def _url_or_none(name: str) -> str | None:
    """The URL of a page another part of the app provides, if it is there yet."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def _pair(key: str, value: str) -> str:
    return f"{quote_plus(key)}={quote_plus(value)}"


class ListUrls:
    """Query strings of the list: the canonical current one and its variations. A page links
    to a hundred variations (sort, columns, sizes, cursors), so each pair is encoded once."""

    def __init__(self, base_url: str, params: list[tuple[str, str]]) -> None:
        self.base_url = base_url
        self.params = params
        self._encoded = [(k, v, _pair(k, v)) for k, v in params]

    def _join(self, pairs: list[str]) -> str:
        return f"{self.base_url}?{'&'.join(pairs)}" if pairs else self.base_url

    def url(self, *, drop: tuple[str, ...] = (), **changes: Any) -> str:
        """The list's URL without the keys in `drop` and the cursor, with `changes` set (a
        None value removes the key)."""
        drop = (*drop, "after", "before", *changes)
        pairs = [encoded for k, _, encoded in self._encoded if k not in drop]
        for key, value in changes.items():
            if value is None:
                continue
            values = value if isinstance(value, list) else [value]
            pairs.extend(_pair(key, str(v)) for v in values)
        return self._join(pairs)

    def without(self, key: str, value: str) -> str:
        return self._join(
            [
                encoded
                for k, v, encoded in self._encoded
                if (k, v) != (key, value) and k not in ("after", "before")
            ]
        )


def run_listing(
    request: HttpRequest,
    queryset: Any,
    *,
    base_url: str,
    archived: bool | None,
    experiment: Experiment | None = None,
    keep: tuple[tuple[str, str], ...] = (),
    project_ids: list[int] | None = None,
) -> tuple[Listing, RunListFilter, str]:
    """The list of `queryset`'s runs as the request asks (filters, sort, columns, page), for
    the runs list and an experiment's page; also the filterset and the canonical URL.

    `archived` says whether every run of `queryset` is archived (True), none is (False), or
    either (None); `keep` holds parameters of the page that are not the list's (e.g. a tab).

    An experiment's page (apps/runs/experiment_views.py) passes its runs, the
    experiment, and archived=None when the experiment is archived (no per-run actions there).
    """
    raw = request.GET.copy()
    added = _added_predicate(raw)
    if added:
        raw.appendlist("m", added)
    sort = Sort.parse(raw.get("sort"))
    filterset = RunListFilter(
        raw,
        queryset=queryset,
        experiment=experiment,
        archived=archived,
        project_ids=project_ids,
        sort_metric=sort.metric if sort is not None else None,
    )
    errors = filterset.clean_errors()
    if sort is None:
        if raw.get("sort"):
            errors.append(f"Sort: “{raw.get('sort')}” is not a column; sorted by creation.")
        sort = Sort.parse(DEFAULT_SORT)
        assert sort is not None
    size_text = raw.get("size") or ""
    size = int(size_text) if size_text.isdigit() and int(size_text) in PAGE_SIZES else None
    size = size or DEFAULT_PAGE_SIZE
    names = filterset.choices.metric_names
    columns = _metric_columns(raw, names)

    # The canonical query string: what the URL bar shows and every link builds on.
    cleaned = filterset.form.cleaned_data if filterset.is_bound else {}
    params: list[tuple[str, str]] = list(keep)
    for name in FILTER_PARAMS:
        if name == "m":
            params.extend(("m", p.token) for p in cleaned.get("m") or [])
            if "m" in filterset.form.errors:
                params.extend(("m", v) for v in raw.getlist("m") if v.strip())
        elif name == "state":
            params.extend(("state", s) for s in cleaned.get("state") or [])
        elif name in filterset.form.errors:
            params.append((name, raw.get(name, "")))
        else:
            value = raw.get(name, "").strip()
            if value and name in filterset.filters:
                params.append((name, value))
    if sort.token != DEFAULT_SORT:
        params.append(("sort", sort.token))
    if size != DEFAULT_PAGE_SIZE:
        params.append(("size", str(size)))
    if columns:
        params.append(("metrics", ",".join(columns)))
    urls = ListUrls(base_url, params)
    after = Cursor.decode(raw.get("after"), sort)
    before = Cursor.decode(raw.get("before"), sort) if after is None else None
    cursor_params = []
    if after is not None:
        cursor_params.append(("after", raw["after"]))
    elif before is not None:
        cursor_params.append(("before", raw["before"]))
    query = urlencode(params + cursor_params)
    canonical = f"{base_url}?{query}" if query else base_url

    # The queries: state counts over every filter but state; the page; its metric values.
    states = filterset.states
    hints = filterset.metric_hints()
    predicates = filterset.predicates
    metric_only = scope = None
    others = [n for n in cleaned if n not in ("state", "experiment", "m") and cleaned.get(n)]
    if predicates and not others:
        by_metric: dict[str, dict[str, float]] = {}
        for p in predicates:
            by_metric.setdefault(p.metric, {})[f"value__{OPERATORS[p.op][0]}"] = p.value
        # Two conditions with one operator on one metric both apply: not a lookup dict's case.
        if sum(len(lookups) for lookups in by_metric.values()) == len(predicates):
            metric_only = list(by_metric.items())
    elif not others and not predicates:
        scope = queries.CountScope(archived, filterset.experiment_id(), filterset.experiment_ids)
    counts = queries.state_counts(
        filterset.queryset_without_state, metric_only=metric_only, hints=hints, scope=scope
    )
    runs = filterset.qs
    # Few runs meet the metric predicates (the capped counts are exact and small) and the page
    # sorts by another metric: start from the first predicate's runs (at most COUNT_CAP, as
    # the counts read) and read each one's sort value, rather than walking the sort's index
    # (all of it, when nearly no run matches: 2-4 s at 100,000 runs).
    per_run = (
        metric_only is not None
        and hints is not None
        and sort.metric is not None
        and sort.metric not in {p.metric for p in predicates}
        and queries.few_matches(counts)
    )
    if per_run:
        runs = runs.filter(queries.among_predicate_runs(*metric_only[0], hints))
    page = queries.fetch_page(
        runs, sort, size, after=after, before=before, hints=hints, sort_per_run=per_run
    )
    values = queries.metric_values([run.pk for run in page.runs], columns)
    for run in page.runs:
        mine = values.get(run.pk, {})
        run.metric_cells = [mine.get(name) for name in columns]

    def sort_url(key: str, default_descending: bool) -> tuple[str, str]:
        current = sort.key == key
        descending = not sort.descending if current else default_descending
        token = ("-" if descending else "") + key
        state = ("desc" if sort.descending else "asc") if current else ""
        return urls.url(sort=None if token == DEFAULT_SORT else token), state

    fixed = []
    for key, label in SORT_COLUMNS.items():
        if key == "experiment" and experiment is not None:
            continue
        url, state = sort_url(key, key in ("created", "duration"))
        fixed.append(Column(key, label, url, state, numeric=key == "duration"))
    metric_cols = []
    for name in columns:
        url, state = sort_url(queries.METRIC_SORT_PREFIX + name, True)
        metric_cols.append(Column(name, name, url, state, numeric=True, metric=True))

    chosen_states = set(states)
    capped = isinstance(counts, queries.CappedCounts) and counts.capped
    total = sum(n for s, n in counts.items() if not chosen_states or s in chosen_states)
    hidden = [(k, v) for k, v in params if k in ("sort", "size", "metrics", "m")]
    listing = Listing(
        runs=page.runs,
        # The chosen metrics right after the state: what the user came to compare stays in view.
        columns=fixed[:2] + metric_cols + fixed[2:],
        metric_columns=columns,
        total=total,
        capped=capped,
        state_counts=[(s, counts.get(s, 0), s in chosen_states) for s in RunState.values],
        metric_names=names,
        predicates=[(p, urls.without("m", p.token)) for p in predicates],
        errors=errors,
        sort=sort,
        size=size,
        size_urls=[(n, urls.url(size=None if n == DEFAULT_PAGE_SIZE else n)) for n in PAGE_SIZES],
        column_urls=[
            (
                name,
                name in columns,
                urls.url(
                    metrics=",".join(
                        [c for c in columns if c != name]
                        if name in columns
                        else [*columns, name][:MAX_METRIC_COLUMNS]
                    )
                    or None
                ),
            )
            for name in names
        ],
        next_url=urls.url(after=page.next_cursor) if page.next_cursor else None,
        previous_url=urls.url(before=page.previous_cursor) if page.previous_cursor else None,
        first_url=urls.url() if page.previous_cursor else None,
        hidden=hidden,
        filtered=any(k in FILTER_PARAMS for k, _ in params),
        folded_filters=sum(1 for k, _ in params if k in FOLDED_PARAMS),
        archived=archived,
        compare_url=_url_or_none("compare:compare"),
        hide_experiment=experiment is not None,
        bulk_url=_url_or_none("runs:restore_many" if archived else "runs:archive_many")
        if archived is not None
        else None,
        bulk_label="Restore" if archived else "Archive",
        # Delete only from the archive, after a confirmation page (GET; it POSTs itself).
        delete_url=_url_or_none("runs:delete_many") if archived else None,
        here=canonical,
        base_url=base_url,
        clear_url=ListUrls(base_url, list(keep)).url(),
        keep=keep,
        operators=[(key, symbol) for key, (_, symbol) in OPERATORS.items()],
    )
    return listing, filterset, canonical


@require_GET
def run_list(request: HtmxHttpRequest) -> HttpResponse:
    archived = request.GET.get("tab") == "archived"
    runs = queries.run_list_queryset().filter(archived_at__isnull=not archived)
    keep = (("tab", "archived"),) if archived else ()
    project = scope.current_project(request)
    listing, filterset, canonical = run_listing(
        request,
        runs,
        base_url=reverse("runs:list"),
        archived=archived,
        keep=keep,
        project_ids=[project.pk] if project else [],
    )
    partial = bool(request.htmx and not request.htmx.boosted)
    if not partial and "m_name" in request.GET:
        # The form's "add a metric filter" row, without JavaScript: show the canonical URL.
        return HttpResponseRedirect(canonical)
    return render_listing(
        request,
        "runs/run_list.html",
        listing,
        canonical,
        {"filter": filterset, "archived": archived, "list_url": reverse("runs:list")},
    )


def render_listing(
    request: HtmxHttpRequest,
    template: str,
    listing: Listing,
    canonical: str,
    context: dict[str, Any],
) -> HttpResponse:
    """A page with the runs table (the runs list, an experiment's page), or the table alone
    for htmx. While a run on the page is active the table refreshes itself (`poll=1`, same
    filters, sort and cursor) when a change is pushed, or every 2 s while none can be; the
    refresh leaves the URL alone and stops with 286 once no run on the page is active."""
    partial = bool(request.htmx and not request.htmx.boosted)
    live = any(run.is_active for run in listing.runs)
    polling = partial and request.GET.get("poll") == "1"
    response = render(
        request,
        template + ("#run-table" if partial else ""),
        {**context, "listing": listing, "oob": partial, "live": live},
    )
    if partial and not polling:
        push_url(response, canonical)
    if polling and not live:
        response.status_code = HTMX_STOP_POLLING
    return response
