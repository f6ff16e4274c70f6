"""Small formatting helpers of the run and experiment pages."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django import template
from django.utils.safestring import SafeString

from apps.runs.ansi import ansi_to_html

register = template.Library()


@register.filter
def ansi(text: str) -> SafeString:
    """A step log with its terminal colours as spans (escaped first, see apps/runs/ansi.py)."""
    return ansi_to_html(text or "")


@register.filter
def duration(value: timedelta | None) -> str:
    """1h 02m, 3m 07s, 12s, or an em dash when unknown."""
    if value is None:
        return "—"
    seconds = max(int(value.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"


@register.filter
def percent(done: int, total: int) -> int:
    if not total:
        return 0
    return max(0, min(100, round(100 * done / total)))


@register.filter
def lower_phase(value: str | None) -> str:
    return "".join(ch for ch in (value or "pending").lower() if ch.isalpha())


@register.filter
def get_item(mapping: dict[str, Any] | None, key: str) -> Any:
    return (mapping or {}).get(key)


@register.filter
def metric_value(value: float, fmt: str = "RAW") -> str:
    if fmt == "PERCENTAGE":
        return f"{value * 100:.2f}%" if abs(value) <= 1 else f"{value:.2f}%"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}" if abs(value) < 1e-3 or abs(value) >= 1e6 else f"{value:.4f}".rstrip("0")


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False, default=str)


@register.filter
def elapsed(obj: Any) -> str:
    """How long a step or run has taken: to its end, or until now while it runs."""
    started = getattr(obj, "started_at", None)
    if started is None:
        return "—"
    from django.utils import timezone

    return duration((getattr(obj, "finished_at", None) or timezone.now()) - started)


@register.filter
def iteration_parts(display_name: str) -> tuple[str, str]:
    """`task(3:item)` -> ("3", "item"), for the list of a looped task's iterations."""
    from apps.runs.run_graph import LOOP_ITERATION

    match = LOOP_ITERATION.match(display_name or "")
    return (match.group("index"), match.group("item")) if match else ("", display_name)
