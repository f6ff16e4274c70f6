"""The runs list's rows, rendered in Python: 100 rows x a dozen cells through the template
engine cost more than the page's queries; here a row is a few string joins."""

from __future__ import annotations

from typing import Any

from django import template
from django.forms import ModelChoiceField
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from apps.runs.templatetags.runs_ui import duration, metric_value
from apps.runs.templatetags.short_time import ago

register = template.Library()
PLACEHOLDER_UUID = "00000000-0000-0000-0000-000000000000"


def url_prefix(name: str, *args: Any) -> str:
    """A URL pattern's text with the last argument cut off: reverse once, then concatenate."""
    url = reverse(name, args=args)
    return url[: url.rindex(str(args[-1]))]


def version_url_format() -> str:
    """A pipeline version's URL with `{p}` (pipeline id) and `{v}` (version id) to fill."""
    url = reverse("pipelines:version", args=[0, PLACEHOLDER_UUID])
    return url.replace("/0/", "/{p}/", 1).replace(PLACEHOLDER_UUID, "{v}")


@register.simple_tag
def run_rows(listing: Any) -> SafeString:
    run_url = url_prefix("runs:detail", PLACEHOLDER_UUID)
    experiment_url = url_prefix("experiments:detail", 0)
    pipeline_url = url_prefix("pipelines:detail", 0)
    version_url = version_url_format()
    out: list[str] = []
    now = timezone.now()
    for run in listing.runs:
        name = escape(run.name)
        state = run.state
        progress = ""
        if run.is_active and run.progress_total:
            progress = f' <span class="muted small">{run.progress_done}/{run.progress_total}</span>'
        version = run.pipeline_version
        pipeline = version.pipeline
        cells = [
            f'<tr><td class="rl-sel"><input type="checkbox" class="rl-pick" value="{run.pk}"'
            f' aria-label="Select {name}"></td>',
            f'<td class="primary-cell rl-name nowrap"><a href="{run_url}{run.pk}/" title="{name}">'
            f"{name}</a></td>",
            f'<td class="nowrap"><span class="badge state state-{state.lower()}">'
            f'<span class="dot" aria-hidden="true"></span>{state}</span>{progress}</td>',
        ]
        for cell in run.metric_cells:
            if cell is None:
                cells.append('<td class="num muted">—</td>')
            else:
                cells.append(f'<td class="num mono">{metric_value(cell[0], cell[1])}</td>')
        if not listing.hide_experiment:
            cells.append(
                f'<td><a href="{experiment_url}{run.experiment.pk}/">'
                f"{escape(run.experiment.name)}</a></td>"
            )
        cells.append(
            f'<td class="rl-pipeline"><a href="{pipeline_url}{pipeline.pk}/">'
            f"{escape(pipeline.name)}</a> "
            f'<a class="chip" href="{version_url.format(p=pipeline.pk, v=version.pk)}">'
            f"{escape(version.name)}</a></td>"
        )
        created = run.created_at
        # "5 min ago", "2 d ago", then "Nov 3": a short column leaves room for the rest.
        shown = ago(created, now)
        cells.append(
            f'<td class="nowrap"><time datetime="{created.isoformat()}"'
            f' title="{created:%Y-%m-%d %H:%M:%S} UTC">{escape(shown)}</time></td>'
            f'<td class="num nowrap">{duration(run.duration)}</td>'
        )
        cells.append("</tr>")
        out.append("".join(cells))
    return mark_safe("".join(out))


def _choices(field: Any) -> list[tuple[Any, str]]:
    """A field's choices; a model choice field's read in one fetch (its own iterator opens a
    server-side cursor on PostgreSQL: three round trips for a few dozen rows)."""
    if not isinstance(field, ModelChoiceField):
        return list(field.choices)
    choices = [] if field.empty_label is None else [("", field.empty_label)]
    choices += [
        (field.prepare_value(obj), field.label_from_instance(obj)) for obj in field.queryset
    ]
    return choices


@register.simple_tag
def select_field(bound: Any) -> SafeString:
    """A filter's <select>, options written here: Django's widget templates cost about 0.1 ms
    an option, which for a few hundred experiments and versions is most of the page."""
    chosen = bound.value()
    chosen = "" if chosen is None else str(chosen)
    parts = [f'<select name="{bound.html_name}" id="{bound.auto_id}">']
    for value, label in _choices(bound.field):
        value = "" if value is None else str(value)
        selected = " selected" if value == chosen else ""
        parts.append(f'<option value="{escape(value)}"{selected}>{escape(label)}</option>')
    parts.append("</select>")
    return mark_safe("".join(parts))
