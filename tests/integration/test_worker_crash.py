"""kill -9 of a real Celery worker during a submit and during syncs: no duplicate workflow, no
run stuck, no output copied twice."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from apps.experiments.models import Experiment
from apps.orchestration.argo import get_client
from apps.pipelines.services import create_version
from apps.runs.models import Artifact, Run
from apps.runs.services import create_run
from apps.runs.tasks import SYNC_LOCK_KEY
from tests.processes import CeleryProcess, app_env, clear_redis

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]

# Two steps, then one that never runs: the first writes an output to copy, the second fails.
# Shell steps that sleep, not the notebooks of examples/failing: the kills need runs that last
# a few seconds, not steps that cost CPU (papermill and a kernel: 2.5 CPU-s a step, most of
# this test's CPU).
FAILING = b"""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: crash-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: make
        template: make
      - name: check
        template: check
        dependencies: [make]
      - name: report
        template: report
        dependencies: [check]
  - name: make
    container:
      image: busybox
      command: [sh, -c]
      args: ["sleep 3; seq 1 10 > /tmp/numbers.csv; echo made the numbers"]
    outputs:
      artifacts:
      - name: numbers
        path: /tmp/numbers.csv
  - name: check
    container:
      image: busybox
      command: [sh, -c]
      args: ["sleep 3; echo the numbers do not add up; exit 1"]
  - name: report
    container:
      image: busybox
      command: [sh, -c]
      args: ["echo never runs"]
"""


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def celery_env(argo, settings, tmp_path):
    broker = settings.CELERY_BROKER_URL
    if not broker.startswith("redis://"):
        pytest.skip("needs the Redis broker: run the suite with REDIS_URL set (make test does)")
    clear_redis(settings)  # this session's keys only: others may share the Redis database
    return app_env(
        settings,
        redis_url=broker,
        data_dir=tmp_path / "app",
        extra={
            # Make recovery quick enough to watch: a lost submit is found after 2 s, and an
            # unacknowledged message comes back after 5 s.
            "YDP_SUBMIT_STALE_SECONDS": "2",
            "CELERY_VISIBILITY_TIMEOUT": "5",
            "YDP_SYNC_INTERVAL_SECONDS": "0.5",
        },
    )


def workflows_of(run: Run) -> list[dict]:
    return get_client().list_workflows(label_selector=f"ydpipelines.io/run={run.id}")


def test_worker_killed_during_submit_and_syncs(celery_env, tmp_path, settings):
    version = create_version(upload_name="failing.yaml", data=FAILING, pipeline_name="crash test")
    experiment = Experiment.objects.create(name="crash test")
    runs = [create_run(version=version, experiment=experiment) for _ in range(3)]

    beat = CeleryProcess(celery_env, tmp_path / "beat.log", beat=True).start()
    worker = CeleryProcess(celery_env, tmp_path / "worker-1.log").start()
    killed = [worker]
    try:
        # Kill the first worker while it submits a run.
        worker.kill_when_busy({"submit_run"})
        # Then kill each replacement while it syncs or copies outputs: once it is up and
        # working, never while it starts (such a kill would test nothing). Once no pass holds
        # the sync lock (a worker killed mid-pass leaves it for SYNC_LOCK_TTL), so that the
        # sync the kill hits is a pass, not one that found the lock taken and skipped.
        for number in (2, 3):
            worker = CeleryProcess(celery_env, tmp_path / f"worker-{number}.log").start()
            killed.append(worker)
            worker.kill_when_busy(
                {"sync_runs", "fetch_outputs"}, after=lambda: cache.get(SYNC_LOCK_KEY) is None
            )
        worker = CeleryProcess(celery_env, tmp_path / "worker-4.log").start()
        # Each kill hit a worker in the middle of the work it was meant to interrupt: the
        # killed workers' logs (final now) show those tasks taken and never ended.
        hits = [dead.tasks_in_flight() for dead in killed]
        assert "submit_run" in hits[0], hits
        assert all({"sync_runs", "fetch_outputs"} & set(hit) for hit in hits[1:]), hits

        def all_finished():
            return all(Run.objects.get(pk=run.pk).is_finished for run in runs)

        wait_for(all_finished, 240, "every run to end")
        for run in runs:
            run.refresh_from_db()
            assert len(workflows_of(run)) == 1, f"{run.id} has a duplicate workflow"
            assert run.submitted_at is not None
            assert run.state == "Failed", run.message  # the failing step fails it, never sticks
        # Every finished step's outputs are copied exactly once.
        wait_for(
            lambda: (
                not Run.objects.filter(
                    pk__in=[r.pk for r in runs],
                    steps__node_type="Pod",
                    steps__log_fetched=False,
                    steps__phase__in=["Succeeded", "Failed"],
                ).exists()
            ),
            60,
            "every step's log to be copied",
        )
        names = list(Artifact.objects.filter(run__in=runs).values_list("run_id", "step_id", "name"))
        assert len(names) == len(set(names))
        assert sorted(name for _, _, name in names) == ["numbers"] * 3  # each run's, copied
    finally:
        worker.stop()
        beat.stop()
