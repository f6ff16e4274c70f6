"""Benchmark the sync: one pass over 1,000 active workflows of 20 steps each, and the delay
between a step's phase change in the engine and the run page showing it.

    .venv/bin/python bench/sync.py [--workflows 1000] [--steps 20] [--runs 100000]

Needs PostgreSQL (DATABASE_URL, default a `ydp_bench` database it creates) and starts its own
embedded engine. The workflows' steps are `suspend` templates: Running in Argo's eyes, but no
process each, so that 20,000 running steps fit on one machine.

--runs N: the pass among N runs of history, the standard dataset (loaded by bench/runs_list.py
into the same database if it is not there; bench/catalog.py's steps and artifacts too when
they are): the sync must cost the same beside 10k, 100k or 1M finished runs. The dataset's own
Pending and Running runs have no workflow in this engine, so the bench parks them for the
passes (no submission time: the sync skips them) and gives it back after, even after a crash
(the dataset's runs were all submitted when created).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ydp_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ydpipelines.settings")
os.environ.setdefault("YDP_DATA_DIR", tempfile.mkdtemp(prefix="ydp-bench-sync-"))


def ensure_database() -> None:
    import psycopg

    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            c.execute(f'CREATE DATABASE "{name}"')


def suspend_dag_yaml(steps: int) -> str:
    tasks = "\n".join(f"      - name: step-{i}\n        template: wait" for i in range(steps))
    return f"""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: bench-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
{tasks}
  - name: wait
    suspend: {{}}
"""


def short_yaml() -> str:
    return """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: delay-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: first
        template: nap
      - name: second
        template: nap
        depends: first
  - name: nap
    container:
      image: alpine:3.20
      command: [sh, -c, "sleep 1"]
"""


class CountingSession:
    """Counts the HTTP calls the Argo client makes."""

    def __init__(self, session) -> None:
        self.session = session
        self.calls = 0

    def request(self, *args, **kwargs):
        self.calls += 1
        return self.session.request(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.session, name)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--delay-samples", type=int, default=5)
    parser.add_argument("--runs", type=int, default=0, help="runs of history (the dataset)")
    parser.add_argument(
        "--profile", action="store_true", help="print where a moved pass spends its time"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="CI's check: 20 workflows x 5 steps, one delay"
    )
    args = parser.parse_args()
    if args.smoke:
        args.workflows, args.steps, args.delay_samples = 20, 5, 1

    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    call_command("migrate", verbosity=0)
    from django.conf import settings

    from apps.experiments.models import Experiment
    from apps.orchestration.argo import ArgoClient, ArgoConfig
    from apps.pipelines.rendering import workflow_for_run
    from apps.pipelines.services import create_version
    from apps.runs.models import Run, Step
    from apps.runs.sync import sync_active_runs
    from apps.runs.tasks import run_labels
    from tests.processes import EngineProcess

    bench_runs = Run.objects.filter(experiment__name="bench-sync")
    bench_runs.delete()  # an earlier bench run's, never the dataset's
    history = unpark(Run)
    if args.runs:
        sys.path.insert(0, str(ROOT / "bench"))
        import runs_list

        if not runs_list.loaded(args.runs):
            print(f"loading the standard dataset ({args.runs:,} runs) ...", flush=True)
            runs_list.load(args.runs)
        history = Run.objects.count()
    parked = park(Run)
    print(f"runs of history: {history:,} ({parked:,} active ones parked for the bench)")
    engine = EngineProcess(Path(tempfile.mkdtemp(prefix="ydp-bench-engine-")) / "data").start()
    settings.ARGO_SERVER = engine.url
    try:
        client = ArgoClient(ArgoConfig(server=engine.url, namespace="argo", timeout=60))
        experiment, _ = Experiment.objects.get_or_create(name="bench-sync")
        stamp = str(int(time.time()))
        version = create_version(
            upload_name="bench.yaml",
            data=suspend_dag_yaml(args.steps).encode(),
            pipeline_name=f"bench-sync-{stamp}",
        )
        print(f"creating {args.workflows} workflows of {args.steps} suspended steps ...")
        started = time.perf_counter()
        runs = []
        for i in range(args.workflows):
            run = Run(experiment=experiment, pipeline_version=version, name=f"bench {i}")
            run.workflow_name = f"run-{run.id.hex}"
            run.workflow_namespace = "argo"
            run.submitted_at = run.created_at = None
            runs.append(run)
        Run.objects.bulk_create(runs, batch_size=1000)
        from django.utils import timezone

        Run.objects.filter(pk__in=[r.pk for r in runs]).update(submitted_at=timezone.now())
        for run in runs:
            manifest = workflow_for_run(
                version.manifest,
                name=run.workflow_name,
                namespace="argo",
                parameters={},
                labels=run_labels(run),
            )
            client.create_workflow(manifest)
        print(f"  created in {time.perf_counter() - started:.1f} s")

        def nodes_ready() -> int:
            items = client.list_workflows(
                label_selector="ydpipelines.io/run",
                fields="items.metadata.name,items.status.phase,items.status.nodes",
            )
            return sum(len((w.get("status") or {}).get("nodes") or {}) for w in items)

        expected = args.workflows * (args.steps + 1)
        deadline = time.monotonic() + 300
        while nodes_ready() < expected and time.monotonic() < deadline:
            time.sleep(1)

        counting = CountingSession(client.session)
        client.session = counting
        timings = []
        for attempt in range(4):
            counting.calls = 0
            t0, cpu0 = time.perf_counter(), time.process_time()
            stats = sync_active_runs(client)
            timings.append(time.perf_counter() - t0)
            steady_calls = counting.calls
            label = "first pass (creates the Step rows)" if attempt == 0 else "steady pass"
            print(
                f"sync {label}: {timings[-1]:.2f} s, {time.process_time() - cpu0:.2f} s CPU, "
                f"{counting.calls} Argo call(s), "
                f"{stats['runs']} runs, {stats['changed']} changed"
            )
        # Every workflow moved since the last pass (issue 14's case): each run, and one step of
        # each (the usual move: a node started or ended), or every step (the worst case),
        # differ from what Argo says, so the pass compares them and writes those rows. The
        # tables are analysed first, as autovacuum does after the first pass's 20,000 inserts.
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE runs_step")
            cursor.execute("ANALYZE runs_run")
        moved_timings: dict[str, list[float]] = {"one step each": [], "every step": []}
        moved_cpu: dict[str, list[float]] = {case: [] for case in moved_timings}
        for case, timings_of in moved_timings.items():
            for _ in range(3):
                Run.objects.filter(pk__in=[r.pk for r in runs]).update(
                    workflow_resource_version="", progress_done=0, message="stale"
                )
                stale = Step.objects.filter(run__in=runs)
                if case == "one step each":
                    stale = stale.filter(display_name="step-0")
                # the node's digest too: the pass compares a node only when its digest moved
                stale.update(exit_code=-1, sync_digest="")
                counting.calls = 0
                t0, cpu0 = time.perf_counter(), time.process_time()
                stats = sync_active_runs(client)
                timings_of.append(time.perf_counter() - t0)
                moved_cpu[case].append(time.process_time() - cpu0)
                # On a shared machine the wall time moves with the load; this process's CPU
                # time (the pass's Python, not the database's or the engine's) does less.
                print(
                    f"sync pass, all workflows moved ({case}): {timings_of[-1]:.2f} s, "
                    f"{moved_cpu[case][-1]:.2f} s CPU in the sync, "
                    f"{stats['argo_seconds']:.2f} s reading Argo and the runs, "
                    f"{stats['write_seconds']:.2f} s comparing and writing, "
                    f"{counting.calls} Argo call(s), {stats['changed']} runs changed"
                )
        if args.profile:
            import cProfile
            import pstats

            Run.objects.filter(pk__in=[r.pk for r in runs]).update(workflow_resource_version="")
            Step.objects.filter(run__in=runs, display_name="step-0").update(
                exit_code=-1, sync_digest=""
            )
            profiler = cProfile.Profile()
            profiler.runcall(sync_active_runs, client)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        stored = Step.objects.filter(run__in=runs).count()
        print(f"steps stored: {stored}")
        if args.smoke and stored < args.workflows * args.steps:
            print(f"sync: only {stored} steps stored", file=sys.stderr)
            return 1
        print(
            f"RESULT sync pass over {args.workflows} workflows x {args.steps} steps: "
            f"median steady {statistics.median(timings[1:]):.2f} s (goal <= 2 s), "
            f"{steady_calls} Argo call(s) a pass (goal 1)"
        )
        for case, timings_of in moved_timings.items():
            print(
                f"RESULT sync pass when all {args.workflows} workflows moved ({case}): "
                f"median {statistics.median(timings_of):.2f} s, "
                f"{statistics.median(moved_cpu[case]):.2f} s CPU (goal <= 0.5 s; load average "
                f"{os.getloadavg()[0]:.1f})"
            )
        for run in runs:
            client.terminate_workflow(run.workflow_name)
        Run.objects.filter(pk__in=[r.pk for r in runs]).delete()

        # The delay between a step's phase change and the run page showing it: beat's sync
        # interval, the sync pass, and the page's 1 s poll.
        setup_test_environment()
        from django.contrib.auth import get_user_model

        # A superuser, as the other benches': it sees every project (apps/projects/scope.py).
        user, _ = get_user_model().objects.get_or_create(
            username="bench", defaults={"is_staff": True, "is_superuser": True}
        )
        browser = Client()
        browser.force_login(user)
        delay_version = create_version(
            upload_name="delay.yaml",
            data=short_yaml().encode(),
            pipeline_name=f"bench-delay-{stamp}",
        )
        delays = []
        interval = settings.YDP_SYNC_INTERVAL_SECONDS
        for _ in range(args.delay_samples):
            run = Run(experiment=experiment, pipeline_version=delay_version, name="delay")
            run.workflow_name = f"run-{run.id.hex}"
            run.workflow_namespace = "argo"
            run.save()
            Run.objects.filter(pk=run.pk).update(submitted_at=timezone.now())
            client.create_workflow(
                workflow_for_run(
                    delay_version.manifest,
                    name=run.workflow_name,
                    namespace="argo",
                    parameters={},
                    labels=run_labels(run),
                )
            )
            # Beat: a sync every interval. The page: a poll every second.
            seen_at = None
            next_sync = time.time()
            deadline = time.time() + 60
            while time.time() < deadline and seen_at is None:
                now = time.time()
                if now >= next_sync:
                    sync_active_runs(client)
                    next_sync = now + interval
                page = browser.get(f"/runs/{run.id}/", headers={"HX-Request": "true"})
                if Step.objects.filter(
                    run=run, display_name="first", phase="Succeeded"
                ).exists() and (b"phase-succeeded" in page.content or b"Succeeded" in page.content):
                    seen_at = time.time()
                time.sleep(0.1)
            workflow = client.get_workflow(run.workflow_name)
            nodes = (workflow.get("status") or {}).get("nodes") or {}
            first = next(n for n in nodes.values() if n.get("displayName") == "first")
            from django.utils.dateparse import parse_datetime

            changed = parse_datetime(first["finishedAt"]).timestamp()
            if seen_at:
                delays.append(seen_at - changed)
        if delays:
            print(
                f"RESULT phase change -> run page: median {statistics.median(delays):.2f} s, "
                f"max {max(delays):.2f} s over {len(delays)} runs (sync every {interval} s; "
                f"add up to 1 s for the page's poll; goal <= 3 s)"
            )
        elif args.smoke:
            print("sync: the run page never showed the step's phase change", file=sys.stderr)
            return 1
    finally:
        engine.stop()
        unpark(Run)
    growth_figures = {
        "steady": {"page": statistics.median(timings[1:])},
        **{
            f"moved ({case})": {"page": statistics.median(t), "cpu": statistics.median(c)}
            for (case, t), c in zip(moved_timings.items(), moved_cpu.values(), strict=True)
        },
    }
    if not args.smoke or "YDP_BENCH_RESULTS" in os.environ:
        import growth

        print(f"figures kept in {growth.record('sync', history, growth_figures)}")
        for key in ("page", "cpu"):
            for line in growth.report("sync", history, growth_figures, key):
                print(line)
    return 0


# The dataset's active runs, parked: no submission time (the sync reads only submitted runs).
PARKED = {"workflow_name__startswith": "run-", "submitted_at__isnull": True}


def park(run_model) -> int:
    from apps.runs.constants import RUN_ACTIVE_STATES

    return (
        run_model.objects.filter(state__in=RUN_ACTIVE_STATES, submitted_at__isnull=False)
        .exclude(experiment__name="bench-sync")
        .update(submitted_at=None)
    )


def unpark(run_model) -> int:
    """Give the parked runs their submission time back (the dataset's: their creation); also
    what a crashed bench left parked. Returns the runs in the database."""
    from django.db.models import F

    from apps.runs.constants import RUN_ACTIVE_STATES

    run_model.objects.filter(state__in=RUN_ACTIVE_STATES, **PARKED).exclude(
        experiment__name="bench-sync"
    ).update(submitted_at=F("created_at"))
    return run_model.objects.count()


if __name__ == "__main__":
    sys.exit(main())
