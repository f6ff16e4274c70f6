"""The catalogues' kept counts by experiment instead of project (issue 14): a list filtered by
one experiment reads that experiment's counts, a project's list sums its experiments' counts.
The triggers are replaced and the counts recounted from the rows (the backfill)."""

from django.db import migrations, models

from apps.runs.state_counts import (
    ARTIFACT_KINDS,
    ARTIFACT_KINDS_V2,
    STEP_PHASES,
    STEP_PHASES_V2,
)


# The old triggers go first: SQLite rebuilds a counts table to alter it, and a trigger that
# names the table being rebuilt fails the rebuild.
def remove_v2(apps, schema_editor):
    for old in (STEP_PHASES_V2, ARTIFACT_KINDS_V2):
        old.remove(schema_editor.connection)


def install_v2(apps, schema_editor):
    for old in (STEP_PHASES_V2, ARTIFACT_KINDS_V2):
        old.install(schema_editor.connection)


def install(apps, schema_editor):
    for new in (STEP_PHASES, ARTIFACT_KINDS):
        new.install(schema_editor.connection)


def remove(apps, schema_editor):
    for new in (STEP_PHASES, ARTIFACT_KINDS):
        new.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0014_step_sync_digest"),
    ]

    operations = [
        migrations.RunPython(remove_v2, install_v2),
        migrations.RemoveConstraint(model_name="stepphasecount", name="step_phase_count_key"),
        migrations.RemoveConstraint(
            model_name="artifactkindcount", name="artifact_kind_count_key"
        ),
        migrations.RemoveField(model_name="stepphasecount", name="project_id"),
        migrations.RemoveField(model_name="artifactkindcount", name="project_id"),
        migrations.AddField(
            model_name="stepphasecount",
            name="experiment_id",
            field=models.BigIntegerField(null=True),
        ),
        migrations.AddField(
            model_name="artifactkindcount",
            name="experiment_id",
            field=models.BigIntegerField(null=True),
        ),
        migrations.AddConstraint(
            model_name="stepphasecount",
            constraint=models.UniqueConstraint(
                fields=("experiment_id", "bookkeeping", "phase"), name="step_phase_count_key"
            ),
        ),
        migrations.AddConstraint(
            model_name="artifactkindcount",
            constraint=models.UniqueConstraint(
                fields=("experiment_id", "kind"), name="artifact_kind_count_key"
            ),
        ),
        migrations.RunPython(install, remove),
    ]
