"""Benchmark the Executions and Artifacts lists (the catalogues) at scale.

    .venv/bin/python bench/catalog.py [--runs 100000] [--repeat 20] [--reload]
    .venv/bin/python bench/catalog.py --smoke     # 1,000 runs, own database: CI runs this

On the standard runs dataset (bench/runs_list.py loads it, into the same database), adds 5
steps a run (a DAG node and 4 pods: 500,000 steps at 100k runs) and 2 artifacts a run (200,000),
by COPY, then prints for each list's default page, its next page, a filtered page and a facet:
the median and best time of the whole response (Django test Client, logged in, DEBUG off),
this process's CPU time, the number of queries, and their own time replayed alone (all, and
the slowest). "Page 5" follows the keyset pager's Next link four times.
Goals (issue 14): <= 40 ms each.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ydp_bench_runs")

import runs_list  # after the environment it reads

STEPS_PER_RUN = 5
ARTIFACTS_PER_RUN = 2
PHASES = ("Succeeded", "Succeeded", "Succeeded", "Failed", "Running")
KINDS = ("metrics", "table", "file", "html")


def runs_loaded(n_runs: int) -> bool:
    """The standard runs are there (the catalogues do not show metrics, so their load need not
    be checked here)."""
    from apps.runs.models import Run

    return (
        Run.objects.count() == n_runs
        and Run.objects.filter(name__endswith=f"-{n_runs:06d}").exists()
    )


def loaded(n_runs: int) -> bool:
    from apps.runs.models import Artifact, Step

    return (
        Step.objects.count() == n_runs * STEPS_PER_RUN
        and Artifact.objects.count() == n_runs * ARTIFACTS_PER_RUN
    )


def load() -> None:
    """Steps and artifacts for every run, by COPY with the two tables' indexes and keys dropped
    and rebuilt after (as bench/runs_list.py loads the runs)."""
    from django.db import connection, transaction

    from apps.runs.models import Artifact, Step

    with connection.cursor() as cursor:
        # Metrics may name a step (none of the standard dataset's does), so a TRUNCATE of the
        # steps would take them along (CASCADE) or be refused: their key to the steps is
        # dropped for the TRUNCATE and made again, so that bench/runs_list.py and bench/sync.py
        # find the same database loaded whatever ran before.
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
            " FROM pg_constraint WHERE contype = 'f' AND confrelid = 'runs_step'::regclass"
            " AND conrelid::regclass::text NOT IN ('runs_artifact', 'runs_step')"
        )
        keys = cursor.fetchall()
        with transaction.atomic():
            for table, name, _ in keys:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            cursor.execute(
                "DELETE FROM runs_metric WHERE step_id IS NOT NULL;"
                " DELETE FROM runs_metricpoint WHERE step_id IS NOT NULL;"
                " TRUNCATE runs_artifact, runs_step RESTART IDENTITY"
            )
            for table, name, definition in keys:
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        cursor.execute(
            "SELECT id, state, started_at, finished_at FROM runs_run ORDER BY created_at"
        )
        runs = cursor.fetchall()
    started = time.perf_counter()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        rebuild = runs_list.drop_indexes(("runs_step", "runs_artifact"))

        def steps():
            step_id = 0
            for run_id, state, run_started, run_finished in runs:
                for k in range(STEPS_PER_RUN):
                    step_id += 1
                    dag = k == 0
                    phase = state if dag else PHASES[(step_id * 7) % len(PHASES)]
                    if state == "Running" and not dag:
                        phase = "Running" if k == STEPS_PER_RUN - 1 else "Succeeded"
                    finished = run_finished if phase != "Running" else None
                    yield (
                        step_id,
                        run_id,
                        f"node-{k}",
                        "main" if dag else f"main.step-{k}",
                        "main" if dag else f"step-{k}",
                        "main" if dag else f"train-{k % 3}",
                        "DAG" if dag else "Pod",
                        phase,
                        run_started,
                        finished,
                        "t",
                        "t",
                    )

        columns = [
            "id",
            "run_id",
            "node_id",
            "name",
            "display_name",
            "template_name",
            "node_type",
            "phase",
            "started_at",
            "finished_at",
            "log_fetched",
            "artifacts_fetched",
        ]
        runs_list.copy_model(Step, columns, steps())

        def artifacts():
            for i, (run_id, _, run_started, _) in enumerate(runs):
                for k in range(ARTIFACTS_PER_RUN):
                    step_id = i * STEPS_PER_RUN + 2 + k  # a pod of the run
                    kind = KINDS[(i + k) % len(KINDS)]
                    yield (
                        run_id,
                        step_id,
                        f"{kind}-{k}",
                        kind,
                        f"artifacts/{run_id}/{kind}-{k}",
                        1000 + (i * 37 + k) % 100_000,
                        "application/json",
                        json.dumps({}),
                        run_started,
                    )

        columns = ["run_id", "step_id", "name", "kind", "file", "size", "media_type", "data"]
        runs_list.copy_model(Artifact, [*columns, "created_at"], artifacts())
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval('runs_step_id_seq', (SELECT max(id) FROM runs_step))")
            copied = time.perf_counter()
            for statement in rebuild:
                cursor.execute(statement)
    print(
        f"  COPY {copied - started:.1f} s, indexes and keys rebuilt in "
        f"{time.perf_counter() - copied:.1f} s",
        flush=True,
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE runs_step")
        cursor.execute("VACUUM ANALYZE runs_artifact")
        cursor.execute("SELECT count(*) FROM runs_metric")
        print(f"  the runs' metrics kept: {cursor.fetchone()[0]:,}")


def measure(repeat: int, smoke: bool) -> dict[str, dict[str, float]]:
    """Print the figures of each page; return them (ms, and the page's query count)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from apps.experiments.models import Experiment

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    experiment = Experiment.objects.get(name="churn-baseline")
    cases = [
        ("executions, default", "/executions/"),
        ("executions, page 5", ("/executions/", 4)),
        ("executions, Failed", "/executions/?phase=Failed"),
        ("executions, one experiment", f"/executions/?experiment={experiment.pk}"),
        ("executions, by duration", "/executions/?sort=-duration"),
        ("artifacts, default", "/artifacts/"),
        ("artifacts, page 5", ("/artifacts/", 4)),
        ("artifacts, kind table", "/artifacts/?kind=table"),
        ("artifacts, one experiment", f"/artifacts/?experiment={experiment.pk}"),
        ("artifacts, by size", "/artifacts/?sort=-size"),
    ]
    print(f"catalogues: 20 a page (median of {repeat}, warm); goal <= 40 ms")
    figures: dict[str, dict[str, float]] = {}
    for label, url in cases:
        if isinstance(url, tuple):  # a keyset page: follow the Next link from the first
            url, hops = url
            for _ in range(hops):
                url = runs_list._next_url(client.get(url).content.decode())
        response = client.get(url)
        assert response.status_code == 200, (label, response.status_code)
        body = response.content.decode()
        assert "<tbody" in body, f"{label}: no table"
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        statements = [q["sql"] for q in captured.captured_queries]
        slowest = total = 0.0
        for sql in statements:
            with connection.cursor() as cursor:
                began = time.perf_counter()
                cursor.execute(sql)
                if cursor.description:
                    cursor.fetchall()
                took = (time.perf_counter() - began) * 1000
                slowest, total = max(slowest, took), total + took
        median, best, cpu = runs_list._timed(lambda u=url: client.get(u), repeat)
        figures[label] = {
            "page": median,
            "best": best,
            "cpu": cpu,
            "queries": len(statements),
            "all_sql": total,
        }
        ok = "ok" if median <= 40 else "MISSED"
        if smoke:
            ok = "(smoke run)"
        print(
            f"  {label:28s} {median:6.1f} ms median, {best:5.1f} best, {cpu:5.1f} ms CPU here, "
            f"{len(statements)} queries, SQL {total:5.1f} ms (slowest {slowest:5.1f})   {ok}"
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=runs_list.N_RUNS)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--reload", action="store_true", help="load steps and artifacts again")
    parser.add_argument("--smoke", action="store_true", help="1,000 runs, own database")
    args = parser.parse_args()
    if args.smoke:
        args.runs, args.repeat, args.reload = runs_list.SMOKE_RUNS, 3, True
    runs_list.ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if args.smoke or not runs_loaded(args.runs):
        print(f"loading the standard dataset ({args.runs:,} runs) ...", flush=True)
        runs_list.load(args.runs)
    if args.reload or not loaded(args.runs):
        began = time.perf_counter()
        print(f"loading {STEPS_PER_RUN} steps and {ARTIFACTS_PER_RUN} artifacts a run ...")
        load()
        print(f"loaded in {time.perf_counter() - began:.1f} s")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    runs_list.keep_figures("catalog", args.runs, measure(args.repeat, args.smoke), args.smoke)


if __name__ == "__main__":
    main()
