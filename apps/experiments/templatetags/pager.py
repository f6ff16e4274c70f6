"""For templates/partials/pager.html, the pager of every numbered list."""

from __future__ import annotations

from collections.abc import Iterator

from django import template
from django.core.paginator import Page

register = template.Library()


@register.filter
def elided_pages(page: Page) -> Iterator[str | int]:
    """The page numbers around the current page, with "…" for the gaps: a template cannot pass
    the number to Paginator.get_elided_page_range, which without it elides around page 1."""
    return page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
