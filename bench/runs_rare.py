"""Time the runs list pages of issue 14's rare-predicate case on an existing database.

    DATABASE_URL=.../ydp_listsync .venv/bin/python bench/runs_rare.py [repeat]
    FEW=-1 ...   # the walk of the sort's index for every page (queries.FEW_MATCHES = -1)
    PLAN=1 ...   # and print each page query's EXPLAIN (ANALYZE, BUFFERS)

Reads only: the login (user `bench` of bench/runs_list.py's dataset) writes its session inside
a transaction that is rolled back. Prints, per page (50 runs, all experiments): the queries,
the median page response and the app's CPU, the median of the page query alone, its
EXPLAIN ANALYZE execution time and buffers, and the rows shown.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ydpipelines.settings")
os.environ["DEBUG"] = "false"
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("YDP_STATIC_MANIFEST", "false")

PAGE = "&size=50&metrics=auc"
CASES = [
    ("accuracy > 0.999, by auc", "/runs/?m=accuracy:gt:0.999&sort=-m:auc" + PAGE),
    ("accuracy > 0.95, by auc", "/runs/?m=accuracy:gt:0.95&sort=-m:auc" + PAGE),
    ("accuracy > 0.94, by auc", "/runs/?m=accuracy:gt:0.94&sort=-m:auc" + PAGE),
    ("accuracy > 0.94, by auc ascending", "/runs/?m=accuracy:gt:0.94&sort=m:auc" + PAGE),
    ("accuracy > 0.95, by auc ascending", "/runs/?m=accuracy:gt:0.95&sort=m:auc" + PAGE),
    ("accuracy > 0.9, by auc", "/runs/?m=accuracy:gt:0.9&sort=-m:auc" + PAGE),
    ("no predicate, by auc", "/runs/?sort=-m:auc" + PAGE),
]


def main(repeat: int) -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    if os.environ.get("FEW"):
        import apps.runs.queries as queries

        queries.FEW_MATCHES = int(os.environ["FEW"])
    median = statistics.median
    with transaction.atomic():
        client = Client()
        client.force_login(get_user_model().objects.get(username="bench"))
        print("load", os.getloadavg())
        for label, url in CASES:
            client.get(url)
            with CaptureQueriesContext(connection) as captured:
                response = client.get(url)
            assert response.status_code == 200
            n_queries = len(captured.captured_queries)
            sql = max(
                (q["sql"] for q in captured.captured_queries if "LIMIT 51" in q["sql"]), key=len
            )
            walls, cpus, sqls = [], [], []
            for _ in range(repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                client.get(url)
                walls.append((time.perf_counter() - t0) * 1000)
                cpus.append((time.process_time() - c0) * 1000)
                with connection.cursor() as cursor:
                    t0 = time.perf_counter()
                    cursor.execute(sql)
                    cursor.fetchall()
                    sqls.append((time.perf_counter() - t0) * 1000)
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                plan = [row[0] for row in cursor.fetchall()]
            buffers = next((line for line in plan if "Buffers" in line), "").strip()
            rows = response.content.decode().count('class="rl-pick"')
            print(
                f"{label}: {n_queries} queries, page {median(walls):.1f} ms"
                f" (app CPU {median(cpus):.1f} ms), page query {median(sqls):.1f} ms;"
                f" {plan[-1].strip()}; {buffers}; {rows} rows"
            )
            if os.environ.get("PLAN"):
                print("\n".join(plan))
        transaction.set_rollback(True)
    print("load", os.getloadavg())


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
