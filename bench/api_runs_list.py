"""Benchmark the runs list through the API against the page, on the standard dataset.

    .venv/bin/python bench/api_runs_list.py [--repeat 30] [--reload]
    .venv/bin/python bench/api_runs_list.py --smoke     # 1,000 runs, own database: CI runs this

The same dataset and query as bench/runs_list.py (its loader, its database): finished runs with
accuracy > 0.9, sorted by accuracy descending, 50 a page, within one experiment and across all.
For each it prints the median time of the page (logged-in Django test Client, full HTML) and of
`GET /api/v1/runs` with the same filters (a write token, JSON), their query counts, and the
ratio. Goal (issue 13): the API <= 1.5x the page's own time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import runs_list

GOAL_RATIO = 1.5


def measure(repeat: int, smoke: bool) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from apps.api.models import ApiToken
    from apps.api.tokens import issue_token
    from apps.experiments.models import Experiment

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    page_client = Client()
    page_client.force_login(user)
    ApiToken.objects.filter(user=user, name="bench").delete()
    token, text = issue_token(user, name="bench", role="read")
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    api_client = Client(HTTP_AUTHORIZATION=f"Bearer {text}")
    experiment = Experiment.objects.get(name="churn-baseline")
    size = 10 if smoke else 50
    query = f"state=Succeeded&m=accuracy:gt:0.9&sort=-m:accuracy&size={size}&metrics=accuracy"
    cases = [
        ("one experiment", f"{query}&experiment={experiment.pk}"),
        ("all experiments", query),
    ]
    print(
        f"runs list, page vs API: state Succeeded, accuracy > 0.9, sorted by accuracy desc, "
        f"{size} a page (median of {repeat}, warm)"
    )
    for label, params in cases:
        page_url, api_url = f"/runs/?{params}", f"/api/v1/runs?{params}"
        response = api_client.get(api_url)
        assert response.status_code == 200, response.content
        items = response.json()["items"]
        assert items or (smoke and label == "one experiment"), "no run in the answer"
        assert page_client.get(page_url).status_code == 200
        counts = []
        for client, url in ((page_client, page_url), (api_client, api_url)):
            with CaptureQueriesContext(connection) as captured:
                client.get(url)
            counts.append(len(captured.captured_queries))
        page_ms, page_best, _ = runs_list._timed(lambda u=page_url: page_client.get(u), repeat)
        api_ms, api_best, _ = runs_list._timed(lambda u=api_url: api_client.get(u), repeat)
        ratio = api_ms / page_ms if page_ms else float("inf")
        ok = "ok" if ratio <= GOAL_RATIO else "MISSED"
        if smoke:
            ok = "(smoke run: 1,000 runs, the goal is for 100,000)"
        print(f"  {label}: {len(items)} runs in the answer")
        print(f"    page     {page_ms:7.1f} ms median, {page_best:5.1f} best, {counts[0]} queries")
        print(f"    API      {api_ms:7.1f} ms median, {api_best:5.1f} best, {counts[1]} queries")
        print(f"    API / page {ratio:5.2f}x (goal <= {GOAL_RATIO}x)   {ok}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per figure")
    parser.add_argument("--reload", action="store_true", help="load the dataset again")
    parser.add_argument("--runs", type=int, default=runs_list.N_RUNS)
    parser.add_argument("--smoke", action="store_true", help="1,000 runs, own database, 3 repeats")
    args = parser.parse_args()
    if args.smoke:
        args.runs, args.repeat, args.reload = runs_list.SMOKE_RUNS, 3, True
        url = os.environ["DATABASE_URL"]
        os.environ["DATABASE_URL"] = url + "_smoke"
    runs_list.ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    if args.reload or not runs_list.loaded(args.runs):
        print(f"loading the standard dataset ({args.runs:,} runs x 20 metrics) ...", flush=True)
        runs_list.load(args.runs)
        print(f"loaded in {time.perf_counter() - started:.1f} s")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    measure(args.repeat, args.smoke)


if __name__ == "__main__":
    main()
