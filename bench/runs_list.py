"""Benchmark the runs list on the standard dataset (the issue-5 acceptance figure).

    .venv/bin/python bench/runs_list.py [--repeat 30] [--reload] [--explain]
    .venv/bin/python bench/runs_list.py --smoke     # 1,000 runs, own database: CI runs this

Loads ../shared/tools/runs_dataset.py's 100,000 runs x 20 metrics (50 experiments, 20 pipelines
x 3 versions) into PostgreSQL once (DATABASE_URL, default its own `ydp_bench_runs` database,
created if absent; a later start reuses it), then prints, for the runs list filtered to finished
runs (state Succeeded: MLflow's FINISHED) with accuracy > 0.9, sorted by accuracy descending, 50 a
page, within one experiment and across all:
  - the median time of the whole page response (Django test Client GET, logged in, full HTML,
    warm, DEBUG off), and of the next page (through the cursor link of the first);
  - the number of queries of the page;
  - the median time of the page's main query alone (cursor.execute of the same SQL).
Goals: one experiment <= 25 ms, all experiments <= 60 ms, page <= 3x the raw SQL.
The machine's load average is printed too: wall times on a shared machine move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ydp_bench_runs")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ydpipelines.settings")
os.environ.setdefault("YDP_DATA_DIR", tempfile.mkdtemp(prefix="ydp-bench-runs-"))
os.environ["DEBUG"] = "false"  # what production renders: cached templates, no query log
# The test Client speaks plain HTTP; in production TLS ends before the app, so no redirect.
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
# Static names straight from the source folders: no collectstatic manifest in a bench run.
os.environ.setdefault("YDP_STATIC_MANIFEST", "false")

DATASET = Path(
    os.environ.get("YDP_SHARED", ROOT.parent / "shared"), "tools", "runs_dataset.py"
).resolve()
N_RUNS = 100_000
N_METRICS = 20
SMOKE_RUNS = 1_000


def ensure_database() -> None:
    import psycopg

    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            c.execute(f'CREATE DATABASE "{name}"')


def dataset_module():
    import importlib.util

    if not DATASET.exists():
        sys.exit(f"runs_list: {DATASET} is absent (the standard dataset generator)")
    spec = importlib.util.spec_from_file_location("runs_dataset", DATASET)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def loaded(n_runs: int) -> bool:
    from apps.runs.models import Metric, Run

    return (
        Run.objects.count() == n_runs
        and Metric.objects.count() == n_runs * N_METRICS
        and Run.objects.filter(name__endswith=f"-{n_runs:06d}").exists()
    )


def column_defaults(model, given: set[str]) -> dict[str, str | None]:
    """The COPY text of every concrete column of model that given lacks: its field's default.

    A column added later with a default loads without a change here; one without a default
    stops the load at once, naming it (so the bench cannot rot silently)."""
    from django.utils import timezone

    defaults: dict[str, str | None] = {}
    for field in model._meta.concrete_fields:
        if field.column in given or field.get_internal_type().endswith("AutoField"):
            continue  # the database numbers serial keys itself
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = timezone.now()
        else:
            value = field.get_default()  # what a save would store: "" for a blank CharField
            if value is None and not field.null:
                raise SystemExit(f"runs_list: no value to load for {model.__name__}.{field.name}")
        if isinstance(value, (dict, list)):
            value = json.dumps(value).replace("\\", "\\\\")
        elif isinstance(value, bool):
            value = "t" if value else "f"
        defaults[field.column] = None if value is None else str(value)
    return defaults


def copy_model(model, columns: list[str], rows) -> None:
    """COPY rows (tuples in the order of columns) into model's table, the other columns at
    their defaults."""
    extra = column_defaults(model, set(columns))
    tail = tuple(extra.values())
    _copy(model._meta.db_table, [*columns, *extra], (row + tail for row in rows))


def _copy(table: str, columns: list[str], rows) -> None:
    """COPY rows (tuples of str | None) into table, 20,000 lines at a time."""
    from django.db import connection

    def flush(lines: list[str]) -> None:
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
            copy.write("".join(lines))

    lines: list[str] = []
    for row in rows:
        lines.append("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
        if len(lines) == 20_000:
            flush(lines)
            lines = []
    if lines:
        flush(lines)


def load(n_runs: int) -> None:
    from django.db import connection, transaction

    from apps.experiments.models import Experiment
    from apps.pipelines.models import Pipeline, PipelineVersion
    from apps.runs.models import Metric, Run

    data = dataset_module()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE runs_metric, runs_artifact, runs_step, runs_run, runs_recurringrun, "
            "pipelines_pipelineversion, pipelines_pipeline, experiments_experiment CASCADE"
        )
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "bench-"},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "suspend": {}}]},
    }
    with transaction.atomic():
        experiments = {
            e.name: e.pk
            for e in Experiment.objects.bulk_create(
                [Experiment(name=n) for n in data.experiment_names(50)]
            )
        }
        versions: dict[tuple[str, str], uuid.UUID] = {}
        for index, name in enumerate(data.pipeline_names(20)):
            pipeline = Pipeline.objects.create(name=name)
            for version in data.pipeline_versions(index, 3):
                row = PipelineVersion.objects.create(
                    pipeline=pipeline,
                    name=version,
                    source_format="argo",
                    source_filename="pipeline.yaml",
                    manifest=manifest,
                    node_count=1,
                    content_hash=uuid.uuid4().hex,
                )
                versions[(name, version)] = row.pk

        runs = list(data.iter_runs(runs=n_runs, metrics=N_METRICS))
        run_columns = [
            "id",
            "name",
            "description",
            "experiment_id",
            "pipeline_version_id",
            "parameters",
            "state",
            "message",
            "workflow_name",
            "workflow_namespace",
            "workflow_uid",
            "created_at",
            "submitted_at",
            "started_at",
            "finished_at",
            "progress_done",
            "progress_total",
            "sync_error",
        ]
        copy_model(
            Run,
            run_columns,
            (
                (
                    r["id"],
                    r["name"],
                    "",
                    experiments[r["experiment"]],
                    versions[(r["pipeline"], r["version"])],
                    json.dumps(r["params"]).replace("\\", "\\\\"),
                    r["state"],
                    "",
                    f"run-{r['id']}",
                    "argo",
                    "",
                    r["created_at"],
                    r["created_at"],
                    r["created_at"],
                    r["finished_at"],
                    1,
                    1,
                    "",
                )
                for r in runs
            ),
        )
        # The metric rows get their run's copies here, in the COPY itself: the trigger that
        # fills them row by row (migration 0002) would look up 2,000,000 runs.
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE runs_metric DISABLE TRIGGER runs_metric_copy_run")
        copy_model(
            Metric,
            [
                "run_id",
                "step_id",
                "name",
                "value",
                "format",
                "run_experiment_id",
                "run_state",
                "run_archived",
            ],
            (
                (
                    r["id"],
                    None,
                    name,
                    repr(value),
                    "RAW",
                    experiments[r["experiment"]],
                    r["state"],
                    "f",
                )
                for r in runs
                for name, value in r["metrics"].items()
            ),
        )
    # Only now: the foreign keys' deferred checks ran at the commit.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE runs_metric ENABLE TRIGGER runs_metric_copy_run")
        cursor.execute("VACUUM ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per figure")
    parser.add_argument("--reload", action="store_true", help="load the dataset again")
    parser.add_argument("--load-only", action="store_true")
    parser.add_argument("--explain", action="store_true", help="print the page query's plan")
    parser.add_argument("--runs", type=int, default=N_RUNS, help="dataset size (default 100,000)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="CI's check that the bench still works: 1,000 runs in their own database, 3 repeats",
    )
    args = parser.parse_args()
    if args.smoke:
        args.runs, args.repeat, args.reload = SMOKE_RUNS, 3, True
        url = os.environ["DATABASE_URL"]
        os.environ["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + url.rsplit("/", 1)[1] + "_smoke"

    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    if args.reload or not loaded(args.runs):
        print(f"loading the standard dataset ({args.runs:,} runs x 20 metrics) ...", flush=True)
        load(args.runs)
        print(f"loaded in {time.perf_counter() - started:.1f} s")
    else:
        print(f"dataset already loaded (checked in {time.perf_counter() - started:.2f} s)")
    from django.db import connection

    with connection.cursor() as cursor:
        # What autovacuum does in production: fresh visibility maps for index-only scans.
        cursor.execute("VACUUM ANALYZE runs_metric")
        cursor.execute("VACUUM ANALYZE runs_run")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.load_only:
        return
    measure(args.repeat, args.explain, smoke=args.smoke)


def _timed(fn, repeat: int, warm: int = 5) -> tuple[float, float, float]:
    """Median and best wall time, and median CPU time of this process, in ms."""
    for _ in range(warm):
        fn()
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(wall), min(wall), statistics.median(cpu)


def _next_url(body: str) -> str | None:
    import html
    import re

    match = re.search(r'<a href="([^"]+)"[^>]*rel="next"', body)
    return html.unescape(match.group(1)) if match else None


def measure(repeat: int, explain: bool = False, smoke: bool = False) -> None:
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
    size = 10 if smoke else 50  # the smoke dataset has about 70 matching runs in all
    base = f"/runs/?state=Succeeded&m=accuracy:gt:0.9&sort=-m:accuracy&size={size}&metrics=accuracy"
    cases = [
        ("one experiment", f"{base}&experiment={experiment.pk}", 25.0),
        ("all experiments", base, 60.0),
    ]
    print(
        f"runs list: state Succeeded, accuracy > 0.9, sorted by accuracy desc, {size} a page "
        f"(median of {repeat}, warm)"
    )
    for label, url, goal in cases:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        body = response.content.decode()
        rows = body.count('class="rl-pick"')
        assert rows or (smoke and label == "one experiment"), "no run on the page"
        next_url = _next_url(body)
        # One experiment of the smoke dataset has a couple of matching runs: one page.
        assert next_url or (smoke and label == "one experiment"), "no next page link"
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        queries = len(captured.captured_queries)
        # Read now: captured_queries slices a bounded log that later requests shift.
        all_sql = [q["sql"] for q in captured.captured_queries]
        page_sql = [q["sql"] for q in captured.captured_queries if f"LIMIT {size + 1}" in q["sql"]]
        assert len(page_sql) == 1, "the page query was not found"
        page_ms, page_best, page_cpu = _timed(lambda u=url: client.get(u), repeat)
        next_ms, next_best = (
            _timed(lambda u=next_url: client.get(u), repeat)[:2] if next_url else (0.0, 0.0)
        )

        def raw(sql=page_sql[0]):
            with connection.cursor() as cursor:
                cursor.execute(sql)
                cursor.fetchall()

        raw_ms, raw_best, _ = _timed(raw, repeat)
        ratio = page_ms / raw_ms if raw_ms else float("inf")

        def raw_all(statements=all_sql):
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
                    if cursor.description:
                        cursor.fetchall()

        all_ms, all_best, _ = _timed(raw_all, repeat)
        all_ratio = page_ms / all_ms if all_ms else float("inf")
        ok = "ok" if page_ms <= goal and min(ratio, all_ratio) <= 3 else "MISSED"
        if smoke:
            ok = "(smoke run: 1,000 runs, the goals are for 100,000)"
        print(f"  {label}: {rows} rows on the page")
        print(
            f"    page response     {page_ms:7.1f} ms median, {page_best:5.1f} best, "
            f"{page_cpu:5.1f} ms CPU in this process  (goal <= {goal:.0f} ms)"
        )
        print(f"    next page         {next_ms:7.1f} ms median, {next_best:5.1f} best")
        print(f"    queries           {queries:7d}")
        print(f"    raw page SQL      {raw_ms:7.1f} ms median, {raw_best:5.1f} best")
        print(f"    page / raw SQL    {ratio:7.1f}x (the page query alone)")
        print(
            f"    raw SQL, all {queries} queries {all_ms:5.1f} ms median, {all_best:5.1f} best: "
            f"page / all SQL {all_ratio:.1f}x (goal <= 3x)   {ok}"
        )
        if explain:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + page_sql[0])
                print("\n".join("      " + row[0] for row in cursor.fetchall()))


if __name__ == "__main__":
    main()
