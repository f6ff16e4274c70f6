"""Template helpers for the app's layout: the sidebar sections, icons, YAML highlighting and the
pager. They live in the lowest app with pages, so every app's templates may load them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from django import template
from django.core.paginator import Page
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# The six sections of the app. A section links to the first of its URL names that exists, so a
# section lights up by itself once its app adds the page; until then it shows as "soon".
SECTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Pipelines", "pipelines", ("pipelines:list",)),
    ("Experiments", "experiments", ("experiments:list",)),
    ("Runs", "runs", ("runs:list",)),
    ("Recurring Runs", "recurring", ("runs:recurring_list", "recurring:list")),
    ("Artifacts", "artifacts", ("runs:artifact_list", "artifacts:list")),
    ("Executions", "executions", ("runs:execution_list", "executions:list")),
)

# Hand-drawn 24x24 stroke icons (currentColor), one per section plus a few for the UI.
_ICON_PATHS: dict[str, str] = {
    "pipelines": (
        '<circle cx="5" cy="6" r="2.2"/>'
        '<circle cx="5" cy="18" r="2.2"/>'
        '<circle cx="19" cy="12" r="2.2"/>'
        '<path d="M7.2 6.5c5 .5 5 5 9.6 5.2M7.2 17.5c5-.5 5-5 9.6-5.2"/>'
    ),
    "experiments": (
        '<path d="M9 3h6M10 3v6.2L4.6 18.4A1.7 1.7 0 0 0 6.1 21h11.8a1.7 1.7 0 0 0 '
        '1.5-2.6L14 9.2V3"/>'
        '<path d="M7.4 15h9.2"/>'
    ),
    "runs": ('<circle cx="12" cy="12" r="9"/><path d="M10 8.5v7l5.5-3.5z"/>'),
    "recurring": (
        '<path d="M20 12a8 8 0 0 1-14.2 5M4 12a8 8 0 0 1 14.2-5"/>'
        '<path d="M18.5 3v4.2h-4.2M5.5 21v-4.2h4.2"/>'
        '<path d="M12 8.5V12l2.5 1.5"/>'
    ),
    "artifacts": (
        '<path d="M3.5 7.5 12 3l8.5 4.5v9L12 21l-8.5-4.5z"/>'
        '<path d="M3.5 7.5 12 12l8.5-4.5M12 12v9"/>'
    ),
    "executions": (
        '<rect x="3.5" y="4" width="17" height="16" rx="2"/>'
        '<path d="M7 9h4M7 13h7M7 17h3"/>'
        '<path d="m15 8.2 1.3 1.3L19 7"/>'
    ),
    "upload": (
        '<path d="M12 16V4M7 9l5-5 5 5"/>'
        '<path d="M4 15v3.5A1.5 1.5 0 0 0 5.5 20h13a1.5 1.5 0 0 0 1.5-1.5V15"/>'
    ),
    "download": (
        '<path d="M12 4v12M7 11l5 5 5-5"/>'
        '<path d="M4 15v3.5A1.5 1.5 0 0 0 5.5 20h13a1.5 1.5 0 0 0 1.5-1.5V15"/>'
    ),
    "search": ('<circle cx="11" cy="11" r="6.5"/><path d="m16 16 4.5 4.5"/>'),
    "copy": (
        '<rect x="8" y="8" width="12" height="12" rx="2"/>'
        '<path d="M16 8V5.5A1.5 1.5 0 0 0 14.5 4h-9A1.5 1.5 0 0 0 4 5.5v9A1.5 1.5 0 0 0 '
        '5.5 16H8"/>'
    ),
    "play": ('<path d="M7 4.5v15l12-7.5z"/>'),
    "user": ('<circle cx="12" cy="8" r="4"/><path d="M4 20.5c1.2-4 4.3-6 8-6s6.8 2 8 6"/>'),
    "chevron": ('<path d="m9 6 6 6-6 6"/>'),
    "caret": ('<path d="m7 10 5 5 5-5"/>'),
    "plus": ('<path d="M12 5v14M5 12h14"/>'),
    "fit": (
        '<path d="M4 9V5.5A1.5 1.5 0 0 1 5.5 4H9M15 4h3.5A1.5 1.5 0 0 1 20 5.5V9M20 '
        '15v3.5a1.5 1.5 0 0 1-1.5 1.5H15M9 20H5.5A1.5 1.5 0 0 1 4 18.5V15"/>'
    ),
    "zoom-in": ('<circle cx="11" cy="11" r="6.5"/><path d="m16 16 4.5 4.5M8 11h6M11 8v6"/>'),
    "zoom-out": ('<circle cx="11" cy="11" r="6.5"/><path d="m16 16 4.5 4.5M8 11h6"/>'),
    "file": (
        '<path d="M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z"/>'
        '<path d="M14 3v5h5"/>'
    ),
    "info": ('<circle cx="12" cy="12" r="9"/><path d="M12 11v5M12 7.5v.5"/>'),
    "alert": ('<path d="M12 3.5 2.5 20h19z"/><path d="M12 10v4.5M12 17v.5"/>'),
    "check": ('<path d="m5 12.5 4.5 4.5L19 7.5"/>'),
    "close": ('<path d="m6 6 12 12M18 6 6 18"/>'),
    "logo": (
        '<circle cx="6" cy="6" r="2.5"/>'
        '<circle cx="6" cy="18" r="2.5"/>'
        '<circle cx="18" cy="12" r="2.5"/>'
        '<path d="M8.5 6h2a3 3 0 0 1 3 3v0a3 3 0 0 0 3 3M8.5 18h2a3 3 0 0 0 3-3v0a3 3 0 0 '
        '1 3-3"/>'
    ),
}


@register.simple_tag
def icon(name: str, size: int = 18, css_class: str = "icon") -> SafeString:
    paths = _ICON_PATHS.get(name, "")
    return format_html(
        '<svg class="{}" width="{}" height="{}" viewBox="0 0 24 24" fill="none" '
        'stroke="currentColor" stroke-width="1.8" stroke-linecap="round" '
        'stroke-linejoin="round" aria-hidden="true" focusable="false">{}</svg>',
        css_class,
        size,
        size,
        mark_safe(paths),  # our own constant markup above, never user input
    )


@dataclass
class NavItem:
    label: str
    icon: str
    url: str | None
    active: bool = False


def _first_url(names: tuple[str, ...]) -> str | None:
    for name in names:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return None


@register.simple_tag
def nav_sections(request: HttpRequest | None) -> list[NavItem]:
    items = [NavItem(label, icon_name, _first_url(names)) for label, icon_name, names in SECTIONS]
    path = request.path if request is not None else ""
    # The longest matching URL wins, so /runs/recurring/ marks "Recurring Runs", not "Runs".
    matches = [item for item in items if item.url and path.startswith(item.url)]
    if matches:
        max(matches, key=lambda item: len(item.url or "")).active = True
    return items


_YAML_LINE = re.compile(
    r"^(?P<indent>\s*(?:-\s+)*)(?P<key>[^\s:#'\"-][^:#]*?|\"[^\"]*\"|'[^']*')(?P<colon>:)(?=\s|$)"
)


@register.filter
def highlight_yaml(text: str) -> SafeString:
    """Escaped YAML with keys, strings and literals wrapped in spans for colouring."""
    lines = []
    block_indent: int | None = None  # inside a `|`/`>` block scalar: its lines are plain text
    for line in text.splitlines():
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if block_indent is not None:
            if not stripped or indent > block_indent:
                lines.append(f'<span class="y-block">{escape(line)}</span>')
                continue
            block_indent = None
        match = _YAML_LINE.match(line)
        if match:
            rest = line[match.end() :]
            lines.append(
                escape(match.group("indent"))
                + f'<span class="y-key">{escape(match.group("key"))}</span>:'
                + _highlight_value(rest)
            )
            if _BLOCK_SCALAR.match(rest.strip()):
                block_indent = indent
        elif stripped.startswith("- "):
            lines.append(escape(line[:indent]) + "- " + _highlight_value(stripped[2:]))
        else:
            lines.append(_highlight_value(line))
    return mark_safe("\n".join(lines))  # every piece above went through escape()


_BLOCK_SCALAR = re.compile(r"^[|>][+-]?\d*$")


def _highlight_value(value: str) -> str:
    stripped = value.strip()
    if not stripped:
        return escape(value)
    if stripped in {"true", "false", "null", "~"} or re.fullmatch(r"-?\d+(\.\d+)?", stripped):
        return escape(value).replace(
            escape(stripped), f'<span class="y-lit">{escape(stripped)}</span>', 1
        )
    if stripped[0] in "'\"":
        return escape(value).replace(
            escape(stripped), f'<span class="y-str">{escape(stripped)}</span>', 1
        )
    return escape(value)


@register.filter
def elided_pages(page: Page) -> Iterator[str | int]:
    """The page numbers around the current page, with "…" for the gaps (partials/pager.html): a
    template cannot pass the number to Paginator.get_elided_page_range, which without it elides
    around page 1."""
    return page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
