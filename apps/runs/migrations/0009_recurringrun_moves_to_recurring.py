"""RecurringRun moved to the recurring app (see recurring 0001): in state only, the runs app lets
go of the model and Run.recurring_run points at its new home; the table and the foreign key in the
database stay as they were. The content type follows, so admin history and permissions do too."""

import django.db.models.deletion
from django.db import migrations, models


def move_content_type(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    if content_type.objects.filter(app_label="recurring", model="recurringrun").exists():
        return  # created by a post_migrate before this ran: nothing to carry over
    content_type.objects.filter(app_label="runs", model="recurringrun").update(
        app_label="recurring"
    )


def restore_content_type(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label="recurring", model="recurringrun").update(
        app_label="runs"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("recurring", "0001_initial"),
        ("runs", "0008_recurringrun_revision"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="run",
                    name="recurring_run",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="runs",
                        to="recurring.recurringrun",
                    ),
                ),
                migrations.DeleteModel(name="RecurringRun"),
            ],
        ),
        migrations.RunPython(move_content_type, restore_content_type),
    ]
