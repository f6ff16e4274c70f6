"""Existing data goes into a "Default" project (the other apps' migrations point their rows at
it) and every existing user becomes one of its owners, so that nobody loses sight of anything."""

from django.conf import settings
from django.db import migrations


def forward(apps, schema_editor):
    Project = apps.get_model("projects", "Project")
    Membership = apps.get_model("projects", "Membership")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    project, _ = Project.objects.get_or_create(slug="default", defaults={"name": "Default"})
    Membership.objects.bulk_create(
        [
            Membership(project=project, user_id=pk, role="owner")
            for pk in User.objects.values_list("pk", flat=True)
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
