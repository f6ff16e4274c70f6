"""Load the demo: an admin login and the demo pipeline from examples/ (idempotent)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from apps.experiments.models import Experiment
from apps.pipelines.models import Pipeline
from apps.pipelines.services import create_version

DEMOS = [
    ("Customer churn", "demo", "Profile customers, train a decision tree, evaluate it."),
    ("Failing step", "failing", "A pipeline whose second step raises: see how failures look."),
]


def zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


class Command(BaseCommand):
    help = "Create the admin/admin login and import the demo pipelines (once)."

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", "admin")
            self.stdout.write("created the login admin / admin")
        Experiment.objects.get_or_create(
            name="Demo", defaults={"description": "Runs of the demo pipelines."}
        )
        examples = Path(settings.BASE_DIR) / "examples"
        for name, folder, description in DEMOS:
            path = examples / folder
            if Pipeline.objects.filter(name=name).exists() or not path.is_dir():
                continue
            version = create_version(
                upload_name=f"{folder}.zip",
                data=zip_folder(path),
                pipeline_name=name,
                version_name="v1",
                description=description,
            )
            Pipeline.objects.filter(pk=version.pipeline_id).update(description=description)
            self.stdout.write(f"loaded {name}: {version.get_absolute_url()}")
