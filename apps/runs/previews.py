"""What the pages show of an artifact: markdown turned into sanitized HTML, CSV into rows, and
the chart data of confusion matrices and ROC curves."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

import nh3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

from apps.runs.artifact_views import inline_media_type
from apps.runs.constants import ArtifactKind
from apps.runs.models import Artifact

MAX_PREVIEW_BYTES = 1024 * 1024
MAX_TABLE_ROWS = 200
CHART_KINDS = frozenset({ArtifactKind.CONFUSION_MATRIX, ArtifactKind.ROC})
# Tags and attributes markdown may produce, and nothing that runs or loads anything else.
_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "details", "div", "em", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span",
    "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "td": {"align"},
    "th": {"align"},
    "code": {"class"},
}


def _is_inline_image(url: str) -> bool:
    return url.strip().lower().startswith("data:image/")


def _render_image(self: Any, tokens: list, idx: int, options: Any, env: Any) -> str:
    """A markdown image: shown only when embedded (data:); anything else would make the
    reader's browser fetch a URL the step chose, so it becomes a link with the alt text."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    if _is_inline_image(src):
        return self.image(tokens, idx, options, env)
    alt = self.renderInlineAsText(token.children or [], options, env) or src
    return f'<a href="{escape(src)}">{escape(alt)}</a> (remote image not shown)'


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    # Raw <img> in the markdown: the same rule. data: stays out of links (a page, not an image).
    if tag == "img" and attribute == "src":
        return value if _is_inline_image(value) else None
    if tag == "a" and attribute == "href" and value.strip().lower().startswith("data:"):
        return None
    return value


def render_markdown(text: str) -> SafeString:
    """Markdown (CommonMark plus tables) to HTML that is safe to put in the page: whatever raw
    HTML the markdown holds goes through nh3's allow-list; images only from data: URLs."""
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    md.add_render_rule("image", _render_image)
    cleaned = nh3.clean(
        md.render(text),
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        attribute_filter=_filter_attribute,
        url_schemes={"http", "https", "mailto", "data"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(cleaned)  # sanitized by nh3 just above


def _read(artifact: Artifact) -> bytes | None:
    if not artifact.file:
        return None
    try:
        with artifact.file.open("rb") as handle:
            return handle.read(MAX_PREVIEW_BYTES + 1)
    except OSError:
        return None


def _csv_table(raw: bytes) -> dict[str, Any]:
    text = raw[:MAX_PREVIEW_BYTES].decode("utf-8", errors="replace")
    dialect = "excel-tab" if text.count("\t") > text.count(",") else "excel"
    rows = [row for row in csv.reader(io.StringIO(text), dialect=dialect) if row]
    header, body = (rows[0], rows[1:]) if rows else ([], [])
    return {
        "header": header,
        "rows": body[:MAX_TABLE_ROWS],
        "truncated": len(body) > MAX_TABLE_ROWS or len(raw) > MAX_PREVIEW_BYTES,
    }


# The order a step's artifacts are shown in: what the step meant to show first (charts, its
# report, its notes, tables), then the rendered notebook, then plain files.
_KIND_ORDER = {
    ArtifactKind.CONFUSION_MATRIX: 0,
    ArtifactKind.ROC: 1,
    ArtifactKind.HTML: 2,
    ArtifactKind.MARKDOWN: 3,
    ArtifactKind.TABLE: 4,
    ArtifactKind.IMAGE: 5,
}
_LATE_NAMES = {"notebook-html": 6, "notebook": 7, "mlpipeline-metrics": 9, "metric-history": 9}


def display_order(artifact: Artifact) -> tuple[int, str]:
    rank = _LATE_NAMES.get(artifact.name, _KIND_ORDER.get(artifact.kind, 8))
    return rank, artifact.name


def prepare(artifacts: Iterable[Artifact], *, full: bool = True) -> list[Artifact]:
    """Attach what the templates show: `.preview` (html, markdown, table, chart, image, or
    file), `.rendered` (sanitized markdown), `.table` and `.chart` (JSON-able data).
    With full=False (lists), files are not read: only charts are drawn."""
    prepared = []
    for artifact in artifacts:
        artifact.preview = "file"
        artifact.inline = inline_media_type(artifact) is not None and bool(artifact.file)
        if artifact.kind in CHART_KINDS and artifact.data:
            artifact.preview = "chart"
            artifact.chart = {"kind": artifact.kind, **artifact.data}
            artifact.chart_json = json.dumps(artifact.chart)
        elif not full:
            pass
        elif artifact.kind == ArtifactKind.HTML and artifact.file:
            artifact.preview = "html"
        elif artifact.kind == ArtifactKind.IMAGE and artifact.inline:
            artifact.preview = "image"
        elif artifact.kind == ArtifactKind.MARKDOWN:
            raw = _read(artifact)
            if raw is not None:
                artifact.preview = "markdown"
                artifact.rendered = render_markdown(
                    raw[:MAX_PREVIEW_BYTES].decode("utf-8", errors="replace")
                )
        elif artifact.kind == ArtifactKind.TABLE:
            table = (
                artifact.data if artifact.data.get("header") or artifact.data.get("rows") else None
            )
            if table is None:
                raw = _read(artifact)
                table = _csv_table(raw) if raw is not None else None
            if table is not None:
                artifact.preview = "table"
                artifact.table = table
        prepared.append(artifact)
    return prepared
