"""Benchmark the runs list on the standard dataset (the issue-5 acceptance figure).

    .venv/bin/python bench/runs_list.py [--repeat 30] [--reload] [--explain]
    .venv/bin/python bench/runs_list.py --smoke     # 1,000 runs, own database: CI runs this
    .venv/bin/python bench/runs_list.py --peer mlflow  # and MLflow's search beside (peer_mlflow.py)

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
        if getattr(field, "generated", False):
            continue  # the database computes it
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


def copy_model(model, columns: list[str], rows, *, freeze: bool = False) -> None:
    """COPY rows (tuples in the order of columns) into model's table, the other columns at
    their defaults. freeze: the table was emptied in this transaction (COPY FREEZE)."""
    extra = column_defaults(model, set(columns))
    tail = "".join("\t" + ("\\N" if v is None else v) for v in extra.values()) + "\n"
    lines = ("\t".join("\\N" if v is None else str(v) for v in row) + tail for row in rows)
    copy_lines(model._meta.db_table, [*columns, *extra], lines, freeze=freeze)


def copy_lines(table: str, columns: list[str], lines, *, freeze: bool = False) -> None:
    """One COPY of lines (COPY text format, each ending in a newline) into table, sent 20,000
    lines at a time: one statement, so that the server stores a batch while this process
    formats the next (a COPY per batch waited for each in turn). FREEZE writes the rows frozen
    and all-visible: the VACUUM after the load has nothing to do for them (PostgreSQL allows
    it on a table created or truncated in the same transaction)."""
    from django.db import connection

    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN" + (
        " WITH (FREEZE)" if freeze else ""
    )
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        batch: list[str] = []
        for line in lines:
            batch.append(line)
            if len(batch) == 20_000:
                copy.write("".join(batch))
                batch = []
        if batch:
            copy.write("".join(batch))


def drop_indexes(tables: tuple[str, ...]) -> list[str]:
    """Drop the secondary indexes, unique and foreign-key constraints of tables (the primary
    keys of tables that others reference stay), and return the statements that rebuild them:
    one sort per index and one join per foreign key after the COPY, instead of keeping every
    index in step row by row and queueing a deferred check per row (260 s -> ~30 s at 100k)."""
    from django.db import connection

    rebuild: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)"
            " FROM pg_constraint c WHERE c.conrelid::regclass::text = ANY(%s)"
            " AND (c.contype IN ('u', 'f') OR (c.contype = 'p' AND NOT EXISTS ("
            "   SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.confrelid = c.conrelid"
            " )))",
            [list(tables)],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " WHERE i.indrelid::regclass::text = ANY(%s) AND NOT EXISTS ("
            "   SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            [list(tables)],
        )
        indexes = cursor.fetchall()
        # Foreign keys go first (they may depend on a unique index), and come back last.
        order = {"f": 0, "u": 1, "p": 2}
        for table, name, _kind, _definition in sorted(constraints, key=lambda c: order[c[2]]):
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        for table, name, kind, definition in sorted(constraints, key=lambda c: -order[c[2]]):
            if kind != "f":
                rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        rebuild.extend(definition for _, definition in indexes)
        rebuild.extend(
            f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
            for table, name, kind, definition in constraints
            if kind == "f"
        )
    return rebuild


def load(n_runs: int) -> None:
    from django.db import connection, transaction

    from apps.experiments.models import Experiment
    from apps.pipelines.models import Pipeline, PipelineVersion
    from apps.runs.models import Metric, Run

    data = dataset_module()
    started = time.perf_counter()
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "bench-"},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "suspend": {}}]},
    }
    with transaction.atomic():
        with connection.cursor() as cursor:
            # In the load's transaction, so that the COPYs may FREEZE (see copy_lines).
            cursor.execute(
                "TRUNCATE runs_metric, runs_artifact, runs_step, runs_run, runs_recurringrun, "
                "pipelines_pipelineversion, pipelines_pipeline, experiments_experiment CASCADE"
            )
            # Room for the index builds at the end: each sorts its table once in memory.
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            # Nothing to wait for at the commit: a lost load is loaded again.
            cursor.execute("SET LOCAL synchronous_commit = off")
        rebuild = drop_indexes(("runs_run", "runs_metric"))
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

        # What the metric COPY needs of each run, kept compact (1M runs fit in memory).
        metric_names = list(data.metric_names(N_METRICS))
        runs_metrics: list[tuple[str, int, str, tuple[float, ...]]] = []

        def keep_metrics(runs):
            for r in runs:
                experiment = experiments[r["experiment"]]
                runs_metrics.append((r["id"], experiment, r["state"], tuple(r["metrics"].values())))
                yield r, experiment

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
                    experiment,
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
                for r, experiment in keep_metrics(data.iter_runs(runs=n_runs, metrics=N_METRICS))
            ),
            freeze=True,
        )
        runs_copied = time.perf_counter()
        # The metric rows get their run's copies here, in the COPY itself: the trigger that
        # fills them row by row (migration 0002) would look up 2,000,000 runs.
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE runs_metric DISABLE TRIGGER runs_metric_copy_run")
        # 2,000,000 lines: each run's columns formatted once, not per metric (4.4 -> 1.3 s).
        columns = ["run_id", "step_id", "name", "value", "format"]
        columns += ["run_experiment_id", "run_state", "run_archived"]
        extra = column_defaults(Metric, set(columns))
        tail = "".join("\t" + ("\\N" if v is None else v) for v in extra.values()) + "\n"

        def metric_lines():
            for run_id, experiment, state, values in runs_metrics:
                head, end = f"{run_id}\t\\N\t", f"\tRAW\t{experiment}\t{state}\tf{tail}"
                yield from (
                    f"{head}{name}\t{value!r}{end}"
                    for name, value in zip(metric_names, values, strict=True)
                )

        copy_lines(Metric._meta.db_table, [*columns, *extra], metric_lines(), freeze=True)
        copied = time.perf_counter()
        took: list[tuple[float, str]] = []
        with connection.cursor() as cursor:
            for statement in rebuild:
                at = time.perf_counter()
                cursor.execute(statement)
                took.append((time.perf_counter() - at, statement))
        rebuilt = time.perf_counter()
        print(
            f"  COPY {copied - started:.1f} s (runs {runs_copied - started:.1f} s, with the"
            f" generator), indexes and keys rebuilt in {rebuilt - copied:.1f} s; slowest:",
            flush=True,
        )
        for seconds, statement in sorted(took, reverse=True)[:4]:
            print(f"    {seconds:5.1f} s  {statement[:90]}")
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE runs_metric ENABLE TRIGGER runs_metric_copy_run")
        cursor.execute("VACUUM ANALYZE")
    print(f"  VACUUM ANALYZE {time.perf_counter() - rebuilt:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per figure")
    parser.add_argument("--reload", action="store_true", help="load the dataset again")
    parser.add_argument("--load-only", action="store_true")
    parser.add_argument("--explain", action="store_true", help="print the page query's plan")
    parser.add_argument("--runs", type=int, default=N_RUNS, help="dataset size (default 100,000)")
    parser.add_argument(
        "--peer",
        choices=["mlflow"],
        help="then time MLflow's own search on the same data (bench/peer_mlflow.py)",
    )
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
    ours = measure(args.repeat, args.explain, smoke=args.smoke)
    keep_figures("runs_list", args.runs, ours, smoke=args.smoke)
    if args.peer == "mlflow":
        print_peer(ours, args.runs, args.repeat, smoke=args.smoke)


def keep_figures(bench: str, size: int, figures: dict[str, dict], smoke: bool) -> None:
    """Keep this run's numeric figures per size (bench/growth.py) and print how each page grew
    from the next smaller size measured. A smoke run keeps them only where YDP_BENCH_RESULTS
    says (its test), not beside the real sizes' figures."""
    import growth

    if smoke and "YDP_BENCH_RESULTS" not in os.environ:
        return
    numeric = {
        label: {k: v for k, v in values.items() if isinstance(v, (int, float))}
        for label, values in figures.items()
    }
    path = growth.record(bench, size, numeric)
    print(f"figures kept in {path}")
    # The wall time, then the CPU figures (the app's, PostgreSQL's), steadier under load.
    for key in ("page", "cpu", "db_cpu"):
        for line in growth.report(bench, size, numeric, key):
            print(line)


def print_peer(ours: dict[str, dict], runs: int, repeat: int, smoke: bool) -> None:
    """MLflow's search on the same data and question, right after ours, and the ratios."""
    import peer_mlflow

    size = 10 if smoke else 50
    theirs = peer_mlflow.run_peer(runs, repeat, size, reload=smoke, smoke=smoke)
    if theirs is None:
        return
    print(f"ours beside MLflow {theirs['version']} (SqlAlchemyStore.search_runs), same data:")
    for label, peer in theirs["cases"].items():
        mine = ours[label]
        page, raw = mine["page"], mine["raw"]
        peer_ms, peer_sql = peer["page"]["median"], peer["sql"]["median"]
        print(
            f"  {label}: MLflow {peer_ms:.1f} ms ({peer['rows']} runs); our page {page:.1f} ms,"
            f" MLflow / our page {peer_ms / page:.1f}x"
        )
        same = (
            "the same runs in the same order"
            if peer["ids"] == mine["ids"]
            else "the same runs, ties ordered apart"
            if sorted(peer["ids"]) == sorted(mine["ids"])
            else "DIFFERENT runs"
        )
        print(f"    first page: {same}")
        all_sql = mine["all_sql"]
        print(
            f"    SQL alone: MLflow's {peer_sql:.1f} ms ({peer['queries']} queries); ours"
            f" {all_sql:.1f} ms ({mine['queries']} queries: {peer_sql / all_sql:.1f}x),"
            f" our page query {raw:.1f} ms ({peer_sql / raw:.1f}x)"
        )
        if peer["next"] and mine["next"]:
            peer_next = peer["next"]["median"]
            print(
                f"    next page: MLflow {peer_next:.1f} ms, ours {mine['next']:.1f} ms:"
                f" {peer_next / mine['next']:.1f}x"
            )


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


def backend_cpu() -> float | None:
    """The CPU seconds this connection's PostgreSQL backend has used, read from its /proc
    entry (the server on this machine), or None where it cannot be read. Robust to the load,
    unlike the wall times: the figure docs/scale.md gives beside them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_ids(body: str) -> list[str]:
    """The ids (32 hex digits, as MLflow writes them) of the runs on a page, in order."""
    import re

    return [m.replace("-", "") for m in re.findall(r'class="rl-pick" value="([^"]+)"', body)]


def _next_url(body: str) -> str | None:
    import html
    import re

    match = re.search(r'<a href="([^"]+)"[^>]*rel="next"', body)
    return html.unescape(match.group(1)) if match else None


def measure(repeat: int, explain: bool = False, smoke: bool = False) -> dict[str, dict]:
    """Print the figures of each page; return them (medians in ms, the page's run ids)."""
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
    # (label, URL, goal in ms, whether the page must link a next one)
    cases = [
        # A few dozen matching runs below 100,000 runs: maybe one page.
        ("one experiment", f"{base}&experiment={experiment.pk}", 25.0, False),
        ("all experiments", base, 60.0, True),
    ]
    # The other pages of the issue-14 table: the default list, a rare name searched, the
    # duration sort, and two metric predicates with a third metric's sort (all experiments).
    rare = "000042"
    cases += [
        ("default (newest first)", f"/runs/?size={size}", 20.0, True),
        (f"text search, a rare name ({rare})", f"/runs/?q={rare}&size={size}", 25.0, False),
        ("sort by duration", f"/runs/?sort=-duration&size={size}", 25.0, True),
        (
            "accuracy > 0.8, f1 > 0.8, sorted by auc",
            f"/runs/?m=accuracy:gt:0.8&m=f1:gt:0.8&sort=-m:auc&size={size}&metrics=auc",
            60.0,
            True,
        ),
        # A predicate no run meets, sorted by another metric: the page starts from the
        # predicate's runs (queries.FEW_MATCHES), not from a walk of the whole sort index.
        (
            "accuracy > 0.999 (no run), sorted by auc",
            f"/runs/?m=accuracy:gt:0.999&sort=m:auc&size={size}&metrics=auc",
            60.0,
            False,
        ),
    ]
    print(f"runs list: {size} a page (median of {repeat}, warm)")
    figures: dict[str, dict] = {}
    for label, url, goal, paged in cases:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        body = response.content.decode()
        rows = body.count('class="rl-pick"')
        assert rows or not paged, f"{label}: no run on the page"
        next_url = _next_url(body)
        # One experiment of the smoke dataset has a couple of matching runs: one page.
        assert next_url or not paged, f"{label}: no next page link"
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        queries = len(captured.captured_queries)
        # Read now: captured_queries slices a bounded log that later requests shift.
        all_sql = [q["sql"] for q in captured.captured_queries]
        page_sql = [q["sql"] for q in captured.captured_queries if f"LIMIT {size + 1}" in q["sql"]]
        assert len(page_sql) == 1, "the page query was not found"
        db_before = backend_cpu()
        page_ms, page_best, page_cpu = _timed(lambda u=url: client.get(u), repeat)
        db_after = backend_cpu()
        # Per timed page (the warm-up pages are counted too: repeat + 5 in all).
        db_cpu = (
            (db_after - db_before) * 1000 / (repeat + 5)
            if db_before is not None and db_after is not None
            else None
        )
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
        figures[label] = {
            "page": page_ms,
            "next": next_ms,
            "raw": raw_ms,
            "all_sql": all_ms,
            "queries": queries,
            "cpu": page_cpu,
            "db_cpu": db_cpu,
            "ids": _run_ids(body),
        }
        ok = "ok" if page_ms <= goal and min(ratio, all_ratio) <= 3 else "MISSED"
        if smoke:
            ok = "(smoke run: 1,000 runs, the goals are for 100,000)"
        print(f"  {label}: {rows} rows on the page")
        print(
            f"    page response     {page_ms:7.1f} ms median, {page_best:5.1f} best, "
            f"{page_cpu:5.1f} ms CPU in this process  (goal <= {goal:.0f} ms)"
        )
        if db_cpu is not None:
            print(f"    PostgreSQL CPU    {db_cpu:7.1f} ms a page (its backend's /proc entry)")
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
    return figures


if __name__ == "__main__":
    main()
