"""Short times for narrow table columns: "40s ago", "5 min ago", "3 h ago", "2 d ago", then the
date. The runs list, Artifacts and Executions use them, so a laptop screen keeps every column."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago `moment` was, short; past a week its date (with the year if not this one)."""
    if moment is None:
        return ""
    now = now or timezone.now()
    seconds = int((now - moment).total_seconds())
    if seconds < 0:
        return "just now"
    if seconds < 60:
        return f"{seconds}s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    if seconds < 7 * 86400:
        return f"{seconds // 86400} d ago"
    local = timezone.localtime(moment)
    return local.strftime("%b %-d" if local.year == timezone.localtime(now).year else "%b %-d, %Y")
