"""templates/partials/pager.html: the one pager of every list (numbered pages, page sizes and a
capped count, keyset cursors), rendered directly and on the pages that use it."""

from __future__ import annotations

import re

import pytest
from django.core.paginator import Paginator
from django.template.loader import render_to_string
from django.urls import reverse

from apps.runs.constants import RunState
from tests.experiments.builders import make_experiment, make_run, make_version

db = pytest.mark.django_db


class Capped(Paginator):
    capped = True


def render(rf, query: str = "", **context) -> str:
    request = rf.get("/things/" + query)
    return render_to_string("partials/pager.html", context, request=request)


def test_numbered_pages_keep_the_query(rf):
    page = Paginator(list(range(95)), 10).get_page(3)
    html = render(rf, "?q=churn&page=3", page=page, noun="pipeline")
    assert "21\u201330 of 95 pipelines" in html
    assert '<span class="page" aria-current="page">3</span>' in html
    # Links keep the other parameters and swap in place.
    assert (
        'href="?q=churn&amp;page=2" hx-get="?q=churn&amp;page=2" aria-label="Previous page"' in html
    )
    assert 'href="?q=churn&amp;page=4" hx-get="?q=churn&amp;page=4" aria-label="Next page"' in html
    assert 'class="page-size"' not in html


def test_the_page_numbers_surround_the_current_page(rf):
    html = render(rf, "?page=12", page=Paginator(list(range(195)), 10).get_page(12), noun="run")
    numbers = re.findall(r">(\d+|\u2026)</(?:a|span)>", html.split("<nav")[1])
    assert numbers == ["1", "\u2026", "10", "11", "12", "13", "14", "\u2026", "20"]
    assert '<span class="page" aria-current="page">12</span>' in html


def test_one_page_says_only_how_many(rf):
    html = render(rf, page=Paginator([1], 10).get_page(1), noun="experiment")
    assert re.search(r"<span>1 experiment</span>", html)
    assert "<nav" not in html


def test_page_sizes_and_a_capped_count(rf):
    page = Capped(list(range(40)), 20).get_page(1)
    html = render(
        rf,
        "?size=20",
        page=page,
        noun="artifact",
        page_sizes=(10, 20, 50),
        cap=10_000,
        pager_class="catalog-pager",
    )
    assert 'class="pager catalog-pager"' in html
    assert "1\u201320 of 10,000+ artifacts" in html
    assert '<span class="page" aria-current="true">20</span>' in html
    assert 'href="?size=50" hx-get="?size=50" aria-label="Show 50 a page"' in html


def test_keyset_cursors(rf):
    first = render(rf, keyset=True, next_url="/runs/?after=abc", previous_url=None, first_url=None)
    assert 'rel="next"' in first and 'href="/runs/?after=abc"' in first
    assert '<span class="page is-off" aria-disabled="true">\u2039 Previous</span>' in first
    assert "First page" not in first
    middle = render(
        rf, keyset=True, next_url=None, previous_url="/runs/?before=x", first_url="/runs/"
    )
    assert 'href="/runs/" hx-get="/runs/">First page</a>' in middle
    assert 'hx-swap="outerHTML show:window:top" rel="prev"' in middle
    assert '<span class="page is-off" aria-disabled="true">Next \u203a</span>' in middle


@db
def test_the_lists_use_it(auth_client):
    version = make_version()
    for i in range(23):
        make_run(version, make_experiment(f"e{i:02}"), state=RunState.SUCCEEDED)
    experiments = auth_client.get(reverse("experiments:list") + "?page=2").content.decode()
    assert "21\u201323 of 23 experiments" in experiments and 'rel="prev"' in experiments
    runs = auth_client.get(reverse("runs:list") + "?size=10").content.decode()
    assert 'class="pager rl-pager"' in runs and 'rel="next"' in runs
    pipelines = auth_client.get(reverse("pipelines:list")).content.decode()
    assert "<span>1 pipeline</span>" in pipelines
