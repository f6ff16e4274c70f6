"""The Executions and Artifacts tables' rows, written in Python from the page's dicts: a row
through the template engine (a dozen tags, four `{% url %}`s, related objects) cost about a
millisecond, most of a page; here it is a few string joins, with each URL reversed once."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from django import template
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from apps.runs.catalog_views import node_key, resource_usage
from apps.runs.constants import ArtifactKind
from apps.runs.templatetags.runs_list import PLACEHOLDER_UUID, url_prefix, version_url_format
from apps.runs.templatetags.runs_ui import duration, lower_phase
from apps.runs.templatetags.short_time import ago

register = template.Library()
_KIND_LABELS = dict(ArtifactKind.choices)
_DASH = '<span class="dash">—</span>'


class _Links:
    """The URLs a row links to, from prefixes reversed once a page."""

    def __init__(self) -> None:
        self.run = url_prefix("runs:detail", PLACEHOLDER_UUID)
        self.pipeline = url_prefix("pipelines:detail", 0)
        self.version = version_url_format()

    def pipeline_cell(self, row: dict[str, Any]) -> str:
        pipeline_id = row["run__pipeline_version__pipeline_id"]
        version = self.version.format(p=pipeline_id, v=row["run__pipeline_version_id"])
        return (
            f'<td class="clip pipeline-cell"><a href="{self.pipeline}{pipeline_id}/">'
            f"{escape(row['run__pipeline_version__pipeline__name'])}</a> "
            f'<a class="chip" href="{version}">'
            f"{escape(row['run__pipeline_version__name'])}</a></td>"
        )

    def node(self, row: dict[str, Any], display_name: str) -> str:
        """The run page, opened on the step's node of its graph."""
        return f"{self.run}{row['run_id']}/?node={escape(quote(node_key(display_name), safe='/'))}"


def _time(moment: datetime, now: datetime) -> str:
    return (
        f'<time datetime="{moment.isoformat()}" title="{moment:%Y-%m-%d %H:%M:%S} UTC">'
        f"{escape(ago(moment, now))}</time>"
    )


@register.simple_tag
def execution_rows(page: Any) -> SafeString:
    links = _Links()
    now = timezone.now()
    out: list[str] = []
    for row in page.rows:
        name = escape(row["display_name"])
        run_name = escape(row["run__name"])
        extra = ""
        if row["node_type"] and row["node_type"] != "Pod":
            extra += f' <span class="node-type">{escape(row["node_type"])}</span>'
        template_name = row["template_name"]
        if template_name and template_name != row["display_name"]:
            extra += f'<div class="muted small mono clip-line">{escape(template_name)}</div>'
        phase = row["phase"]
        title = f' title="{escape(row["message"])}"' if row["message"] else ""
        exit_code = ""
        if row["exit_code"]:
            exit_code = (
                ' <span class="exit-code error-text" title="Exit code of the step\'s main'
                f' container">exit {row["exit_code"]}</span>'
            )
        started, finished = row["started_at"], row["finished_at"]
        if started and not finished:
            took = f'<span class="muted">{duration(now - started)}…</span>'
        else:
            took = duration(row["took"])
        usage = "".join(
            f'<span class="usage" title="{escape(use["title"])}"><span class="muted">'
            f"{use['label']}</span> {use['text']}</span>"
            for use in resource_usage(row["resources"])
        )
        out.append(
            f'<tr><td class="primary-cell clip"><a href="{links.node(row, row["display_name"])}"'
            f' title="Open {name} on its run\'s page">{name}</a>{extra}</td>'
            f'<td class="clip"><a href="{links.run}{row["run_id"]}/" title="{run_name}">'
            f'{run_name}</a><div class="muted small clip-line">'
            f"{escape(row['run__experiment__name'])}</div></td>"
            f"{links.pipeline_cell(row)}"
            f'<td class="nowrap"><span class="badge phase phase-{lower_phase(phase)}"{title}>'
            f"{'not run' if phase == 'Omitted' else escape(phase)}</span>{exit_code}</td>"
            f'<td class="nowrap">{_time(started, now) if started else _DASH}</td>'
            f'<td class="num nowrap">{took}</td>'
            f'<td class="nowrap small">{usage or _DASH}</td></tr>'
        )
    return mark_safe("".join(out))


@register.simple_tag
def artifact_rows(page: Any) -> SafeString:
    links = _Links()
    detail_prefix = url_prefix("artifacts:detail", 0)
    now = timezone.now()
    out: list[str] = []
    for row in page.rows:
        detail = f"{detail_prefix}{row['id']}/"
        run_name = escape(row["run__name"])
        step_name = row["step__display_name"]
        if row["step_id"] and step_name is not None:
            step = (
                f'<a href="{links.node(row, step_name)}" title="{escape(step_name)} in '
                f'{run_name}">{escape(step_name)}</a>'
            )
        else:
            step = _DASH
        kind = row["kind"]
        size = escape(filesizeformat(row["size"])) if row["size"] else _DASH
        out.append(
            f'<tr data-row><td class="primary-cell"><a href="{detail}" hx-get="{detail}"'
            ' hx-target="#preview-body" hx-swap="innerHTML" hx-push-url="false" data-preview'
            f' aria-haspopup="dialog">{escape(row["name"])}</a></td>'
            f'<td><span class="badge kind-{escape(kind)}">'
            f"{escape(_KIND_LABELS.get(kind, kind))}</span></td>"
            f'<td class="clip"><a href="{links.run}{row["run_id"]}/" title="{run_name}">'
            f"{run_name}</a></td>"
            f'<td class="clip">{step}</td>'
            f"{links.pipeline_cell(row)}"
            f'<td class="num nowrap">{size}</td>'
            f'<td class="nowrap">{_time(row["created_at"], now)}</td></tr>'
        )
    return mark_safe("".join(out))
