"""`manage.py import_pipeline PATH [--pipeline NAME] [--version NAME] [--description TEXT]`.

PATH is an Elyra .pipeline file, a folder holding one (zipped here), a .zip of such a folder, or
an Argo Workflow as YAML/JSON. The version goes into the pipeline called NAME (default: the
file's or folder's name), which is created when it does not exist. Prints the new version's id;
on bad input, one line on stderr and exit code 1.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.pipelines.importers import MissingFilesError, PipelineImportError
from apps.pipelines.importers.bundle import max_upload_bytes
from apps.pipelines.models import Pipeline
from apps.pipelines.services import create_version

# Never part of a pipeline: editor and VCS clutter in a folder being zipped.
SKIP_DIRS = {".git", ".ipynb_checkpoints", "__pycache__", ".venv", "node_modules"}


class Command(BaseCommand):
    help = "Import a pipeline file, folder or zip as a new pipeline version; prints its id."

    def add_base_argument(self, parser: Any, *args: Any, **kwargs: Any) -> None:
        # Django's own --version (print Django's version) would shadow ours (the version name).
        if "--version" not in args:
            super().add_base_argument(parser, *args, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help=".pipeline file, pipeline folder, .zip, or Argo YAML")
        parser.add_argument("--pipeline", help="pipeline name (default: the file's name)")
        parser.add_argument("--version", dest="version_name", help="version name (default: vN)")
        parser.add_argument("--description", default="", help="version description")
        parser.add_argument(
            "--allow-missing",
            action="store_true",
            help="store a zip or folder that lacks files its nodes use (the version page warns)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        if not path.exists():
            raise CommandError(f"{path}: no such file or folder")
        if path.is_dir():
            upload_name, data = f"{path.resolve().name}.zip", _zip_folder(path)
        else:
            size = path.stat().st_size
            if size > max_upload_bytes():
                raise CommandError(
                    f"{path.name} is {size} bytes, over the {max_upload_bytes()} byte upload limit"
                )
            upload_name, data = path.name, path.read_bytes()
        name = options.get("pipeline") or _stem(path)
        pipeline = Pipeline.objects.filter(name=name).first()
        try:
            version = create_version(
                upload_name=upload_name,
                data=data,
                pipeline=pipeline,
                pipeline_name=None if pipeline else name,
                version_name=options.get("version_name"),
                description=options.get("description") or "",
                allow_missing=options.get("allow_missing", False),
            )
        except MissingFilesError as exc:
            raise CommandError(
                f"{' '.join(str(exc).split())} (--allow-missing stores it all the same)"
            ) from exc
        except PipelineImportError as exc:
            raise CommandError(" ".join(str(exc).split())) from exc
        self.stdout.write(str(version.id))


def _zip_folder(folder: Path) -> bytes:
    out = io.BytesIO()
    total = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.rglob("*")):
            rel = file.relative_to(folder)
            if any(part in SKIP_DIRS for part in rel.parts) or not file.is_file():
                continue
            total += file.stat().st_size
            if total > 8 * max_upload_bytes():
                raise CommandError(f"{folder}: the folder holds too much data to upload")
            archive.write(file, rel.as_posix())
    return out.getvalue()


def _stem(path: Path) -> str:
    name = path.resolve().name
    return name.rsplit(".", 1)[0] if path.is_file() and "." in name else name
