"""Start a run from a shell: `manage.py run_pipeline VERSION --experiment NAME [--param k=v]...
[--wait]`. With --wait, prints the final state once the run has ended and its steps' outputs are
copied (as `ydp run --wait` does), and exits non-zero unless the run succeeded."""

from __future__ import annotations

import threading
import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from apps.experiments.models import Experiment
from apps.orchestration.argo import ArgoError, get_client
from apps.orchestration.queue import QUEUE_DOWN_MESSAGE
from apps.pipelines import services
from apps.pipelines.models import PipelineVersion
from apps.runs.constants import RunState
from apps.runs.models import STEP_OUTPUTS_PENDING, Run, Step
from apps.runs.push import PushUnavailable, Subscription, run_channel
from apps.runs.services import create_run
from apps.runs.tasks import sync_runs

SUBMIT_POLL = 0.2  # seconds between looks at the run when its changes are not pushed
WATCH = 30  # seconds one watch of the workflow lasts before it is opened again


def find_version(ref: str) -> PipelineVersion:
    try:
        return services.find_version(ref)
    except services.VersionNotFound as exc:
        raise CommandError(str(exc)) from None


class EndWatch(threading.Thread):
    """Argo's watch of the run's workflow, in a thread: when the workflow ends it syncs at
    once (the pass beat runs), so --wait returns even where no beat or watcher runs. Where
    beat's watcher runs, it has usually synced the end already and this pass finds nothing."""

    def __init__(self, run: Run) -> None:
        super().__init__(name="run-end-watch", daemon=True)
        self.run_id = run.pk
        self.stopping = threading.Event()

    def run(self) -> None:
        client = get_client()
        try:
            while not self.stopping.is_set():
                run = Run.objects.filter(pk=self.run_id).first()
                if run is None or run.is_finished:
                    return
                if not run.workflow_name or run.submitted_at is None:
                    self.stopping.wait(SUBMIT_POLL)  # the worker has not submitted it yet
                    continue
                try:
                    ended = client.wait_for_end(
                        run.workflow_name, namespace=run.workflow_namespace, timeout=WATCH
                    )
                except ArgoError:
                    self.stopping.wait(1)
                    continue
                if ended is not None and not self.stopping.is_set():
                    # While beat's own pass holds the lock this is skipped: that pass copies it.
                    sync_runs()
                    self.stopping.wait(SUBMIT_POLL)
        finally:
            connection.close()


def outputs_pending(run: Run) -> bool:
    """Whether a finished step's log and artifacts (metrics included) are still to be copied:
    a worker copies them just after the run's end is synced, and publishes each copy."""
    return Step.objects.filter(STEP_OUTPUTS_PENDING, run=run).exists()


def wait_for_run(run: Run, timeout: float, *, outputs: bool = True) -> Run:
    """The run once it has ended and its outputs are copied, or as it is after ``timeout``
    seconds. It sleeps on the run's push channel (apps/runs/push.py): the sync publishes the
    end the moment it copies it, and beat's watcher copies it as soon as Argo reports it; each
    step's copy is published too. A thread watching the workflow itself syncs the end when
    nothing else does. Without Redis, it looks at the run every SUBMIT_POLL. ``outputs=False``
    returns at the end itself (bench/run_wait.py times that)."""
    deadline = time.monotonic() + timeout
    try:
        subscription: Subscription | None = Subscription([run_channel(run.pk)])
    except PushUnavailable:
        subscription = None
    watcher = EndWatch(run)
    watcher.start()
    try:
        while True:
            run.refresh_from_db()
            left = deadline - time.monotonic()
            if (run.is_finished and not (outputs and outputs_pending(run))) or left <= 0:
                return run
            if subscription is None:
                time.sleep(min(SUBMIT_POLL, left))
                continue
            try:
                # Any message (or a quiet second) sends it back to read the run.
                subscription.wait(min(1.0, left))
            except PushUnavailable:
                subscription = None
    finally:
        watcher.stopping.set()
        if subscription is not None:
            subscription.close()


class Command(BaseCommand):
    help = "Start a run of a pipeline version; --wait waits for its end."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version", help="version id, pipeline name, or pipeline:version")
        parser.add_argument(
            "--experiment",
            required=True,
            help="experiment name, in the pipeline's project (created if new)",
        )
        parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--name", default="")
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--wait",
            action="store_true",
            help="wait for the run to end and its outputs to be copied",
        )
        parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait")

    def handle(self, *args, **options) -> None:
        version = find_version(options["version"])
        params = {}
        for item in options["param"]:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CommandError(f"--param {item!r}: use KEY=VALUE")
            params[key] = value
        # The experiment of the version's project (a run's pipeline and experiment share one).
        experiment, _ = Experiment.objects.get_or_create(
            name=options["experiment"], project_id=version.pipeline.project_id
        )
        if experiment.archived_at is not None:
            raise CommandError(f"experiment {experiment.name!r} is archived; restore it first")
        try:
            run = create_run(
                version=version,
                experiment=experiment,
                parameters=params,
                name=options["name"],
                description=options["description"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(str(run.id))
        if run.submission.failed:
            self.stderr.write(f"run {run.id}: {QUEUE_DOWN_MESSAGE}")
        if not options["wait"]:
            return
        run = wait_for_run(run, options["timeout"])
        if not run.is_finished:
            raise CommandError(f"run {run.id} still {run.state} after {options['timeout']:.0f} s")
        if outputs_pending(run):
            raise CommandError(
                f"run {run.id} ended {run.state}, but its outputs are still being copied after "
                f"{options['timeout']:.0f} s (is a worker running?)"
            )
        self.stdout.write(f"{run.state}{': ' + run.message if run.message else ''}")
        if run.state != RunState.SUCCEEDED:
            raise CommandError(f"run {run.id} ended {run.state}")
