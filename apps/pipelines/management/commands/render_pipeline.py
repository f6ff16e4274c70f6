"""`manage.py render_pipeline VERSION_ID`: print a version's Argo manifest as YAML."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.pipelines.models import PipelineVersion
from apps.pipelines.rendering import manifest_yaml


class Command(BaseCommand):
    help = "Print the stored Argo Workflow manifest of a pipeline version as YAML."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version_id", help="the pipeline version's id (a UUID)")

    def handle(self, *args: Any, **options: Any) -> None:
        raw = options["version_id"]
        try:
            version_id = uuid.UUID(raw)
        except ValueError as exc:
            raise CommandError(f"not a version id (expected a UUID): {raw!r}") from exc
        manifest = (
            PipelineVersion.objects.filter(pk=version_id).values_list("manifest", flat=True).first()
        )
        if manifest is None:
            raise CommandError(f"no pipeline version with id {version_id}")
        self.stdout.write(manifest_yaml(manifest), ending="")
