"""Start a run from a shell: `manage.py run_pipeline VERSION --experiment NAME [--param k=v]...
[--wait]`. With --wait, prints the final state and exits non-zero unless the run succeeded."""

from __future__ import annotations

import time
import uuid

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.experiments.models import Experiment
from apps.orchestration.queue import QUEUE_DOWN_MESSAGE
from apps.pipelines.models import Pipeline, PipelineVersion
from apps.runs.constants import RunState
from apps.runs.models import Run
from apps.runs.services import create_run


def find_version(ref: str) -> PipelineVersion:
    """A version by id, or by pipeline name (its latest version), or "pipeline:version"."""
    try:
        return PipelineVersion.objects.select_related("pipeline").get(pk=uuid.UUID(ref))
    except (ValueError, PipelineVersion.DoesNotExist):
        pass
    pipeline_name, _, version_name = ref.partition(":")
    pipeline = Pipeline.objects.filter(name=pipeline_name).first()
    if pipeline is None:
        raise CommandError(f"no pipeline version {ref!r} (give a version id or a pipeline name)")
    versions = pipeline.versions.select_related("pipeline")
    version = versions.filter(name=version_name).first() if version_name else versions.first()
    if version is None:
        raise CommandError(f"pipeline {pipeline_name!r} has no version {version_name!r}")
    return version


class Command(BaseCommand):
    help = "Start a run of a pipeline version; --wait waits for its end."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version", help="version id, pipeline name, or pipeline:version")
        parser.add_argument("--experiment", required=True, help="experiment name (created if new)")
        parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--name", default="")
        parser.add_argument("--description", default="")
        parser.add_argument("--wait", action="store_true", help="wait for the run to end")
        parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait")

    def handle(self, *args, **options) -> None:
        version = find_version(options["version"])
        params = {}
        for item in options["param"]:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CommandError(f"--param {item!r}: use KEY=VALUE")
            params[key] = value
        experiment, _ = Experiment.objects.get_or_create(name=options["experiment"])
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
        deadline = time.monotonic() + options["timeout"]
        while time.monotonic() < deadline:
            run = Run.objects.get(pk=run.pk)
            if run.is_finished:
                break
            time.sleep(1)
        else:
            raise CommandError(f"run {run.id} still {run.state} after {options['timeout']:.0f} s")
        self.stdout.write(f"{run.state}{': ' + run.message if run.message else ''}")
        if run.state != RunState.SUCCEEDED:
            raise CommandError(f"run {run.id} ended {run.state}")
