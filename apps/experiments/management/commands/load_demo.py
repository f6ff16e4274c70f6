"""Load the demo: an admin login, and in a "Demo" project the demo pipelines from examples/
and their "Demo" experiment (idempotent). Here, not in apps.pipelines: the pipelines app knows
nothing of experiments."""

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
from apps.projects.models import Membership, Project

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
        admin = User.objects.get(username="admin")
        project, _ = Project.objects.get_or_create(
            slug="demo", defaults={"name": "Demo", "description": "The demo pipelines and runs."}
        )
        # The admin (a superuser sees every project) is named its owner, for the members page.
        Membership.objects.get_or_create(project=project, user=admin, defaults={"role": "owner"})
        Experiment.objects.get_or_create(
            name="Demo",
            project=project,
            defaults={"description": "Runs of the demo pipelines."},
        )
        examples = Path(settings.BASE_DIR) / "examples"
        for name, folder, description in DEMOS:
            path = examples / folder
            if Pipeline.objects.filter(project=project, name=name).exists() or not path.is_dir():
                continue
            version = create_version(
                upload_name=f"{folder}.zip",
                data=zip_folder(path),
                pipeline_name=name,
                version_name="v1",
                description=description,
                project_id=project.pk,
            )
            Pipeline.objects.filter(pk=version.pipeline_id).update(description=description)
            self.stdout.write(f"loaded {name}: {version.get_absolute_url()}")
