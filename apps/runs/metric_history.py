"""Metric history: the points a step logs with log_metric (docs/steps.md), parsed from its
`metric-history.jsonl` and shaped for the charts.

The file holds one JSON object per line: {"name": str, "value": number, "step": int >= 0
(optional: the previous step of that name + 1), "time": unix seconds (optional)}. A line that
breaks these rules is skipped and counted in a note on the step; nothing here raises on bad input.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from apps.runs.visualizations import METRIC_NAME

HISTORY_FILE = "metric-history.jsonl"
# Bounds that keep one step from filling the database or the page: points past the cap are
# dropped (the last point still sets the final value), a bigger file is read up to the limit.
MAX_POINTS_PER_RUN = 10_000
MAX_HISTORY_BYTES = 16 * 1024 * 1024
MAX_LINE_CHARS = 10_000
MAX_INDEX = 2**62
SHOWN_PROBLEMS = 3
# A chart draws at most this many points per curve (evenly spaced, the last one always kept):
# a few hundred pixels wide, it cannot show more, and the page stays small with ten runs.
MAX_CHART_POINTS = 1000


@dataclass
class Point:
    name: str
    index: int
    value: float
    time: datetime | None = None


@dataclass
class History:
    points: list[Point] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def last_values(self) -> dict[str, float]:
        """Each name's last logged value (file order): its final value in the runs list."""
        return {point.name: point.value for point in self.points}


def _point(item: Any, previous: dict[str, int]) -> Point | str:
    """The line's point, or why it is skipped."""
    if not isinstance(item, dict):
        return "not a JSON object"
    name = item.get("name")
    if not isinstance(name, str) or not METRIC_NAME.match(name):
        return f"bad name {name!r}"
    value = item.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{name}: value {value!r} is not a number"
    value = float(value)
    if not math.isfinite(value):
        return f"{name}: value {value!r} is not a finite number"
    step = item.get("step")
    if step is None:
        step = previous.get(name, -1) + 1
    elif isinstance(step, bool) or not isinstance(step, int | float) or step != int(step):
        return f"{name}: step {step!r} is not an integer"
    step = int(step)
    if not 0 <= step <= MAX_INDEX:
        return f"{name}: step {step} is out of range"
    stamp = item.get("time")
    when = None
    if isinstance(stamp, int | float) and not isinstance(stamp, bool) and math.isfinite(stamp):
        try:
            when = datetime.fromtimestamp(stamp, tz=UTC)
        except (OverflowError, OSError, ValueError):
            when = None  # a time is optional: a wrong one costs the point nothing
    previous[name] = step
    return Point(name=name, index=step, value=value, time=when)


def parse_history(raw: bytes) -> History:
    """The valid points of a history file, in file order, with notes on what was skipped."""
    history = History()
    if len(raw) > MAX_HISTORY_BYTES:
        raw = raw[:MAX_HISTORY_BYTES].rsplit(b"\n", 1)[0]
        history.notes.append(
            f"{HISTORY_FILE} is over {MAX_HISTORY_BYTES // (1024 * 1024)} MiB: only its "
            "first part was read"
        )
    problems: list[str] = []
    previous: dict[str, int] = {}
    text = raw.decode("utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if len(line) > MAX_LINE_CHARS:
            problems.append(f"line {number}: longer than {MAX_LINE_CHARS} characters")
            continue
        try:
            item = json.loads(line)
        except ValueError:
            problems.append(f"line {number}: not JSON")
            continue
        result = _point(item, previous)
        if isinstance(result, str):
            problems.append(f"line {number}: {result}")
        else:
            history.points.append(result)
    if problems:
        shown = "; ".join(problems[:SHOWN_PROBLEMS])
        more = f"; and {len(problems) - SHOWN_PROBLEMS} more" if len(problems) > 3 else ""
        history.notes.append(
            f"{HISTORY_FILE}: {len(problems)} line{'s' if len(problems) != 1 else ''} skipped "
            f"({shown}{more})"
        )
    return history


def series_by_name(points: Iterable[Any]) -> dict[str, list[list[float]]]:
    """{name: [[index, value], ...]} from MetricPoint rows (or values() dicts) in name, index
    order: what the charts draw."""
    series: dict[str, list[list[float]]] = {}
    for point in points:
        if isinstance(point, dict):
            name, index, value = point["name"], point["index"], point["value"]
        else:
            name, index, value = point.name, point.index, point.value
        series.setdefault(name, []).append([index, value])
    return series


def thin(points: list[list[float]], limit: int | None = None) -> list[list[float]]:
    """At most `limit` (default MAX_CHART_POINTS) of the points, evenly spaced, first and last
    kept."""
    limit = limit or MAX_CHART_POINTS
    if len(points) <= limit:
        return points
    stride = (len(points) - 1) / (limit - 1)
    return [points[round(i * stride)] for i in range(limit)]


def run_series(run_id: Any) -> list[dict[str, Any]]:
    """One run's histories for its Output tab: [{"name", "points": [[index, value], ...]}]."""
    from apps.runs.models import MetricPoint

    rows = (
        MetricPoint.objects.filter(run_id=run_id)
        .order_by("name", "index", "pk")
        .values("name", "index", "value")
    )
    return [
        {"name": name, "count": len(points), "points": thin(points)}
        for name, points in series_by_name(rows).items()
    ]


def compare_series(run_ids: list[Any]) -> list[dict[str, Any]]:
    """Several runs' histories for the compare page, one chart per name: [{"name", "curves":
    [{"run": <position in run_ids>, "points": [[index, value], ...]}]}], in one query."""
    from apps.runs.models import MetricPoint

    position = {str(run_id): i for i, run_id in enumerate(run_ids)}
    rows = (
        MetricPoint.objects.filter(run_id__in=run_ids)
        .order_by("name", "run_id", "index", "pk")
        .values_list("name", "run_id", "index", "value")
    )
    charts: dict[str, dict[int, list[list[float]]]] = {}
    for name, run_id, index, value in rows:
        curves = charts.setdefault(name, {})
        curves.setdefault(position[str(run_id)], []).append([index, value])
    return [
        {"name": name, "curves": [{"run": i, "points": thin(p)} for i, p in sorted(curves.items())]}
        for name, curves in charts.items()
    ]
