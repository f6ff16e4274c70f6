"""Benchmark `manage.py run_pipeline --wait`: how long after the engine reports a run's
workflow ended does the command know it (the run synced, its state final)?

    .venv/bin/python bench/run_wait.py [--samples 5]

Each sample runs a two-step workflow on its own embedded engine, three ways: the push (beat's
watcher follows Argo's watch and syncs the end, which is published on the run's Redis channel
the command sleeps on), the command alone (no watcher: its own watch of the workflow syncs the
end, then the same channel wakes it), and the poll of before (beat's sync every
YDP_SYNC_INTERVAL_SECONDS and a look at the run every second). The end is the moment a separate
watch sees the workflow's final phase. Needs PostgreSQL (DATABASE_URL, default a `ydp_bench`
database it creates) and Redis (REDIS_URL, default redis://127.0.0.1:6379/0, keys under a
prefix of this process's own).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ydp_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ydpipelines.settings")
os.environ.setdefault("YDP_DATA_DIR", tempfile.mkdtemp(prefix="ydp-bench-wait-"))
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
# Keys of its own: an app or a test session on the same Redis neither hears nor leads for it.
os.environ["YDP_REDIS_PREFIX"] = f"ydp-bench-wait-{os.getpid()}:"

from sync import ensure_database  # noqa: E402  (bench/sync.py, beside this file)

TWO_STEPS = b"""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: wait-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: first
        template: nap
      - name: last
        template: nap
        depends: first
  - name: nap
    container:
      image: busybox
      command: [sh, -c, "sleep 0.5"]
"""


def polled_wait(run, interval: float, stop: threading.Event) -> None:
    """What --wait did before: beat syncs every `interval` seconds, the command looks at the
    run every second."""
    from apps.orchestration.argo import get_client
    from apps.runs.sync import sync_active_runs

    def beat() -> None:
        client = get_client()
        while not stop.wait(interval):
            sync_active_runs(client)

    threading.Thread(target=beat, daemon=True).start()
    while True:
        run.refresh_from_db()
        if run.is_finished:
            return
        time.sleep(1)


def note_end(workflow: str, ended: list[float]) -> None:
    """Append the moment a watch of its own sees the workflow's final phase."""
    from apps.orchestration.argo import get_client

    if get_client().wait_for_end(workflow, timeout=120):
        ended.append(time.perf_counter())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="CI's check: one sample each way")
    args = parser.parse_args()
    if args.smoke:
        args.samples = 1

    ensure_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from apps.experiments.models import Experiment
    from apps.pipelines.services import create_version
    from apps.runs import watch
    from apps.runs.management.commands.run_pipeline import wait_for_run
    from apps.runs.services import create_run
    from apps.runs.tasks import submit_run
    from tests.processes import EngineProcess

    engine = EngineProcess(Path(tempfile.mkdtemp(prefix="ydp-bench-engine-")) / "data").start()
    settings.ARGO_SERVER = engine.url
    settings.ARGO_NAMESPACE = "argo"
    ways = [
        "push, beat's watcher running (now)",
        "push, the command's own watch + sync (no watcher)",
        "beat + 1 s poll (before)",
    ]
    figures: dict[str, list[float]] = {way: [] for way in ways}
    watch.WATCH_SECONDS = 2  # the watcher stops within 2 s between the ways
    watcher = None
    try:
        experiment, _ = Experiment.objects.get_or_create(name="bench-wait")
        version = create_version(
            upload_name="wait.yaml",
            data=TWO_STEPS,
            pipeline_name=f"bench-wait-{int(time.time())}",
        )
        interval = settings.YDP_SYNC_INTERVAL_SECONDS
        for way in ways:
            if way == ways[0]:
                watcher = watch.WorkflowWatcher("argo")
                watcher.start()
            elif watcher is not None:
                watcher.stop()
                watcher.join()
                watcher = None
            for _ in range(args.samples):
                run = create_run(version=version, experiment=experiment, parameters={})
                submit_run(str(run.id))
                run.refresh_from_db()
                ended: list[float] = []
                end_watch = threading.Thread(target=note_end, args=(run.workflow_name, ended))
                end_watch.start()
                stop = threading.Event()
                if way.startswith("push"):
                    run = wait_for_run(run, 120, outputs=False)  # the end; no worker copies here
                else:
                    polled_wait(run, interval, stop)
                known = time.perf_counter()
                stop.set()
                end_watch.join()
                assert ended and run.is_finished, f"{way}: the run did not end: {run.message}"
                figures[way].append(known - ended[0])
        for way, delays in figures.items():
            print(
                f"RESULT run_pipeline --wait, end detected after the workflow ended, {way}: "
                f"median {statistics.median(delays):.2f} s, max {max(delays):.2f} s over "
                f"{len(delays)} runs (goal <= 0.3 s)"
            )
    finally:
        if watcher is not None:
            watcher.stop()
            watcher.join()
        engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
