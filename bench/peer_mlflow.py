"""MLflow's own run search on the runs list's standard dataset: the peer figure (issue 14).

    .venv/bin/python bench/peer_mlflow.py --install    # var/bench-mlflow-venv: MLflow, once
    .venv/bin/python bench/peer_mlflow.py [--runs 100000] [--repeat 30] [--reload]
    .venv/bin/python bench/peer_mlflow.py --smoke      # 1,000 runs, own database: CI runs this
    .venv/bin/python bench/runs_list.py --peer mlflow  # ours, then this, and the ratios

MLflow lives in its own virtualenv (var/bench-mlflow-venv, gitignored), never in the project's
dependencies: `--install` creates it and pip-installs mlflow-skinny (the tracking store without
the model flavours' libraries), SQLAlchemy, alembic and psycopg2-binary from the index pip is
configured with. The measuring part runs as a subprocess of that venv's python (this same file
with --inside); when the venv is absent the bench says so and exits 0 (CI has no network).

Inside: MLflow's SqlAlchemyStore creates its schema in its own PostgreSQL database
(MLFLOW_DATABASE_URL, default `mlflow_bench`) with MLflow's own migrations; the standard dataset
(../shared/tools/runs_dataset.py, the same size and seed as bench/runs_list.py) is COPYed into
experiments, runs, latest_metrics, metrics, params and tags as MLflow stores them (one step-0
value per metric; states Succeeded -> FINISHED, Failed and Error -> FAILED, Running -> RUNNING,
Terminated -> KILLED). Only the indexes MLflow's migrations create exist: the load drops them
and builds the same ones again after the COPY. Then it times, warm, the median of
`SqlAlchemyStore.search_runs(experiment_ids, "metrics.accuracy > 0.9 and attributes.status =
'FINISHED'", ACTIVE_ONLY, max_results=50, order_by=["metrics.accuracy DESC"])` for one
experiment (churn-baseline) and for all 50, and the next page through its page_token; and
the SQL that one search sends (caught from SQLAlchemy's engine), replayed alone.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Another folder for tests (the path CI takes, where it was never installed).
VENV = Path(os.environ.get("YDP_BENCH_MLFLOW_VENV", ROOT / "var" / "bench-mlflow-venv"))
VENV_PYTHON = VENV / "bin" / "python"
# mlflow-skinny carries the SQLAlchemy tracking store; these are what it needs for PostgreSQL.
PACKAGES = ["mlflow-skinny", "sqlalchemy", "alembic", "psycopg2-binary"]
DATASET = Path(
    os.environ.get("YDP_SHARED", ROOT.parent / "shared"), "tools", "runs_dataset.py"
).resolve()
SERVER = "postgresql://postgres@127.0.0.1:5432"
N_RUNS = 100_000
N_METRICS = 20
SMOKE_RUNS = 1_000
EXPERIMENT = "churn-baseline"  # bench/runs_list.py's "one experiment"
STATUS = {
    "Succeeded": "FINISHED",
    "Failed": "FAILED",
    "Error": "FAILED",
    "Running": "RUNNING",
    "Terminated": "KILLED",
}
FILTER = "metrics.accuracy > 0.9 and attributes.status = 'FINISHED'"
ORDER_BY = ["metrics.accuracy DESC"]
TABLES = ("experiments", "runs", "latest_metrics", "metrics", "params", "tags")
NOT_INSTALLED = "peer mlflow: not installed (bench/peer_mlflow.py --install)"


def install() -> None:
    """Create the venv and install MLflow's tracking store into it."""
    if not VENV_PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [str(VENV_PYTHON), "-m", "pip", "install", "--quiet", *PACKAGES],
        check=True,
    )
    out = subprocess.run(
        [str(VENV_PYTHON), "-c", "import mlflow; print(mlflow.__version__)"],
        check=True,
        capture_output=True,
        text=True,
    )
    print(f"peer mlflow: MLflow {out.stdout.strip()} installed in {VENV}")


def database_url(smoke: bool) -> str:
    """MLflow's own database; in a smoke run one named after the bench's (tests drop it)."""
    if smoke:
        ours = os.environ.get("DATABASE_URL", "")
        name = ours.split("?")[0].rsplit("/", 1)[-1] if "/" in ours else "ydp_bench"
        return f"{SERVER}/{name}_mlflow"
    return os.environ.get("MLFLOW_DATABASE_URL", f"{SERVER}/mlflow_bench")


def run_peer(runs: int, repeat: int, size: int, reload: bool, smoke: bool) -> dict | None:
    """Run the measuring part in MLflow's venv; its figures, or None when it is not installed.

    The subprocess prints its progress as it goes; its last line is the figures as JSON."""
    if not VENV_PYTHON.exists():
        print(NOT_INSTALLED, flush=True)
        return None
    command = [
        str(VENV_PYTHON),
        str(Path(__file__).resolve()),
        "--inside",
        f"--runs={runs}",
        f"--repeat={repeat}",
        f"--size={size}",
        f"--database-url={database_url(smoke)}",
    ]
    if reload:
        command.append("--reload")
    env = {**os.environ, "MLFLOW_ENABLE_ASYNC_LOGGING": "false", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    last = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("RESULT "):
            last = line[len("RESULT ") :]
        else:
            print(line, end="", flush=True)
    if proc.wait() != 0:
        raise SystemExit(f"peer mlflow: the measuring subprocess failed ({proc.returncode})")
    return json.loads(last)


# Everything below runs in MLflow's venv (--inside): the standard library, psycopg2, MLflow.


def _dataset():
    import importlib.util

    if not DATASET.exists():
        sys.exit(f"peer mlflow: {DATASET} is absent (the standard dataset generator)")
    spec = importlib.util.spec_from_file_location("runs_dataset", DATASET)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ensure_database(url: str) -> None:
    import psycopg2

    name = url.rsplit("/", 1)[1]
    conn = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not cursor.fetchone():
            cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def _ms(iso: str | None) -> str:
    """Epoch milliseconds, as MLflow stores times, of one of the dataset's timestamps."""
    from datetime import datetime

    return str(round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000))


def _copy(cursor, table: str, columns: list[str], rows) -> None:
    """COPY rows (tuples of str | None) into table, 50,000 lines at a time."""

    def text(value: str | None) -> str:
        if value is None:
            return "\\N"
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")

    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    lines: list[str] = []
    for row in rows:
        lines.append("\t".join(map(text, row)) + "\n")
        if len(lines) == 50_000:
            cursor.copy_expert(statement, io.StringIO("".join(lines)))
            lines = []
    if lines:
        cursor.copy_expert(statement, io.StringIO("".join(lines)))


def _drop_indexes(cursor, tables: tuple[str, ...]) -> list[str]:
    """Drop the keys and indexes of tables (MLflow's, from its migrations) and return the
    statements that build exactly those again: one sort each after the COPY. A key that a
    table outside tables references stays (dropping it would drop that table's foreign key)."""
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)"
        " FROM pg_constraint c WHERE conrelid::regclass::text = ANY(%s)"
        " AND (contype = 'f' OR (contype IN ('p', 'u') AND NOT EXISTS ("
        "   SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.confrelid = c.conrelid"
        "   AND f.conrelid::regclass::text <> ALL(%s))))",
        [list(tables), list(tables)],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE i.indrelid::regclass::text = ANY(%s) AND NOT EXISTS ("
        "   SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [list(tables)],
    )
    indexes = cursor.fetchall()
    order = {"f": 0, "u": 1, "p": 2}  # foreign keys depend on the keys: dropped first
    for table, name, _kind, _definition in sorted(constraints, key=lambda c: order[c[2]]):
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    rebuild = [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        for table, name, _kind, definition in sorted(constraints, key=lambda c: -order[c[2]])
    ]
    # Foreign keys (sorted last above) after the plain indexes they may use.
    keys = [s for s in rebuild if "FOREIGN KEY" not in s]
    foreign = [s for s in rebuild if "FOREIGN KEY" in s]
    return [*keys, *(definition for _, definition in indexes), *foreign]


def _load(url: str, n_runs: int) -> None:
    import psycopg2

    data = _dataset()
    started = time.perf_counter()
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        # Experiment 0 (Default) is MLflow's own row: it stays.
        cursor.execute(
            "TRUNCATE tags, params, metrics, latest_metrics, runs, experiment_tags CASCADE"
        )
        cursor.execute("DELETE FROM experiments WHERE experiment_id <> 0")
        rebuild = _drop_indexes(cursor, ("runs", "latest_metrics", "metrics", "params", "tags"))
        now = str(int(time.time() * 1000))
        names = data.experiment_names(50)
        experiments = {name: index + 1 for index, name in enumerate(names)}
        _copy(
            cursor,
            "experiments",
            [
                "experiment_id",
                "name",
                "artifact_location",
                "lifecycle_stage",
                "creation_time",
                "last_update_time",
            ],
            (
                (str(i), name, f"/tmp/mlflow-bench/{i}", "active", now, now)
                for name, i in experiments.items()
            ),
        )
        cursor.execute(
            "SELECT setval('experiments_experiment_id_seq', (SELECT max(experiment_id)"
            " FROM experiments))"
        )
        metric_names = data.metric_names(N_METRICS)
        param_names = data.PARAM_NAMES
        keep: list[tuple[str, str, tuple[float, ...], tuple[str, ...], tuple[str, ...]]] = []

        def runs():
            for r in data.iter_runs(runs=n_runs, metrics=N_METRICS):
                end = _ms(r["finished_at"]) if r["finished_at"] else None
                start = _ms(r["created_at"])
                # A metric is logged when its step ends: the run's end, or now for a running one.
                keep.append(
                    (
                        r["id"],
                        end or start,
                        tuple(r["metrics"].values()),
                        tuple(str(r["params"][p]) for p in param_names),
                        (r["name"], r["pipeline"], r["version"]),
                    )
                )
                experiment = experiments[r["experiment"]]
                yield (
                    r["id"],
                    r["name"],
                    "LOCAL",
                    "",
                    "",
                    "bench",
                    STATUS[r["state"]],
                    start,
                    end,
                    "",
                    "active",
                    f"/tmp/mlflow-bench/{experiment}/{r['id']}/artifacts",
                    str(experiment),
                )

        _copy(
            cursor,
            "runs",
            [
                "run_uuid",
                "name",
                "source_type",
                "source_name",
                "entry_point_name",
                "user_id",
                "status",
                "start_time",
                "end_time",
                "source_version",
                "lifecycle_stage",
                "artifact_uri",
                "experiment_id",
            ],
            runs(),
        )
        metric_columns = ["key", "value", "timestamp", "step", "is_nan", "run_uuid"]
        for table in ("latest_metrics", "metrics"):
            _copy(
                cursor,
                table,
                metric_columns,
                (
                    (name, repr(value), at, "0", "f", run_id)
                    for run_id, at, values, _params, _tags in keep
                    for name, value in zip(metric_names, values, strict=True)
                ),
            )
        _copy(
            cursor,
            "params",
            ["key", "value", "run_uuid"],
            (
                (name, value, run_id)
                for run_id, _at, _values, params, _tags in keep
                for name, value in zip(param_names, params, strict=True)
            ),
        )
        # What MLflow's create_run tags a run with, and the pipeline as tags (our run's version).
        tag_names = ("mlflow.runName", "pipeline", "pipeline_version")
        _copy(
            cursor,
            "tags",
            ["key", "value", "run_uuid"],
            (
                (name, value, run_id)
                for run_id, _at, _values, _params, tags in keep
                for name, value in zip(tag_names, tags, strict=True)
            ),
        )
        copied = time.perf_counter()
        for statement in rebuild:
            cursor.execute(statement)
        print(
            f"  COPY {copied - started:.1f} s, MLflow's indexes and keys rebuilt in "
            f"{time.perf_counter() - copied:.1f} s",
            flush=True,
        )
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    conn.close()


def _loaded(url: str, n_runs: int) -> bool:
    import psycopg2

    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM latest_metrics),"
            " EXISTS (SELECT 1 FROM runs WHERE name LIKE %s)",
            [f"%-{n_runs:06d}"],
        )
        runs, metrics, last = cursor.fetchone()
    conn.close()
    return runs == n_runs and metrics == n_runs * N_METRICS and last


def _timed(fn, repeat: int, warm: int = 5) -> dict[str, float]:
    """Median and best wall time, and median CPU time of this process, in ms."""
    for _ in range(warm):
        fn()
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return {"median": statistics.median(wall), "best": min(wall), "cpu": statistics.median(cpu)}


def inside(args: argparse.Namespace) -> None:
    import logging

    import mlflow
    from mlflow.entities import ViewType
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    url = args.database_url
    _ensure_database(url)
    started = time.perf_counter()
    # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3: name the driver installed.
    uri = url.replace("postgresql://", "postgresql+psycopg2://", 1)
    store = SqlAlchemyStore(uri, "/tmp/mlflow-bench")  # creates the schema: MLflow's migrations
    print(
        f"peer mlflow: MLflow {mlflow.__version__}, schema ready in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    load_s = None
    if args.reload or not _loaded(url, args.runs):
        print(f"  loading the standard dataset ({args.runs:,} runs x 20 metrics) ...", flush=True)
        started = time.perf_counter()
        _load(url, args.runs)
        load_s = time.perf_counter() - started
        print(f"  loaded in {load_s:.1f} s", flush=True)
    else:
        print("  dataset already loaded", flush=True)
    experiment = store.get_experiment_by_name(EXPERIMENT).experiment_id
    every = [str(i) for i in range(1, 51)]

    def search(ids: list[str], token: str | None = None):
        return store.search_runs(
            ids,
            FILTER,
            ViewType.ACTIVE_ONLY,
            max_results=args.size,
            order_by=ORDER_BY,
            page_token=token,
        )

    import psycopg2
    from sqlalchemy import event

    def statements(ids: list[str], token: str | None = None) -> list[tuple[str, object]]:
        """The SQL (with its parameters) that one search sends, as the driver gets it."""
        seen: list[tuple[str, object]] = []

        def note(_conn, _cursor, statement, parameters, _context, _many) -> None:
            seen.append((statement, parameters))

        event.listen(store.engine, "before_cursor_execute", note)
        try:
            search(ids, token)
        finally:
            event.remove(store.engine, "before_cursor_execute", note)
        return seen

    raw_conn = psycopg2.connect(url)
    raw_conn.autocommit = True

    def replay(sql: list[tuple[str, object]]) -> None:
        with raw_conn.cursor() as cursor:
            for statement, parameters in sql:
                cursor.execute(statement, parameters)
                if cursor.description:
                    cursor.fetchall()

    results: dict = {"version": mlflow.__version__, "load_s": load_s, "cases": {}}
    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    print(
        f"  MLflow search_runs: {FILTER!r}, {ORDER_BY}, {args.size} a page "
        f"(median of {args.repeat}, warm)",
        flush=True,
    )
    for label, ids in (("one experiment", [experiment]), ("all experiments", every)):
        first = search(ids)
        # Same question, same answer: accuracy > 0.9 and FINISHED, best first.
        values = [r.data.metrics["accuracy"] for r in first]
        assert all(v > 0.9 for v in values) and values == sorted(values, reverse=True)
        assert all(r.info.status == "FINISHED" for r in first)
        page = _timed(lambda ids=ids: search(ids), args.repeat)
        following = (
            _timed(lambda ids=ids, t=first.token: search(ids, t), args.repeat)
            if first.token
            else None
        )
        sql = statements(ids)
        raw = _timed(lambda sql=sql: replay(sql), args.repeat)
        results["cases"][label] = {
            "rows": len(first),
            "ids": [r.info.run_id for r in first],
            "page": page,
            "next": following,
            "sql": raw,
            "queries": len(sql),
        }
        print(f"  {label}: {len(first)} runs on the page")
        print(
            f"    search_runs       {page['median']:7.1f} ms median, {page['best']:5.1f} best, "
            f"{page['cpu']:5.1f} ms CPU in this process"
        )
        print(
            f"    its SQL alone     {raw['median']:7.1f} ms median, {raw['best']:5.1f} best "
            f"({len(sql)} queries replayed on a psycopg2 connection)"
        )
        if following:
            print(
                f"    next page (token) {following['median']:7.1f} ms median, "
                f"{following['best']:5.1f} best"
            )
    print("RESULT " + json.dumps(results), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--install", action="store_true", help="create MLflow's venv")
    parser.add_argument("--runs", type=int, default=N_RUNS, help="dataset size (default 100,000)")
    parser.add_argument("--repeat", type=int, default=30, help="timed searches per figure")
    parser.add_argument("--size", type=int, default=50, help="runs a page")
    parser.add_argument("--reload", action="store_true", help="load the dataset again")
    parser.add_argument("--smoke", action="store_true", help="1,000 runs, own database")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        inside(args)
        return
    if args.install:
        install()
        return
    if args.smoke:  # like bench/runs_list.py --smoke: 10 a page (about 70 matching runs)
        args.runs, args.repeat, args.size, args.reload = SMOKE_RUNS, 3, 10, True
    run_peer(args.runs, args.repeat, args.size, args.reload, args.smoke)


if __name__ == "__main__":
    main()
