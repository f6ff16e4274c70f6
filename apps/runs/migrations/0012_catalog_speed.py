"""The Executions and Artifacts lists at scale: a stored step duration (`took`), the lists'
sort indexes, and the phase and kind counts kept by database triggers."""

import django.db.models.expressions
from django.db import migrations, models

from apps.runs.state_counts import ARTIFACT_KINDS_V1 as ARTIFACT_KINDS
from apps.runs.state_counts import STEP_PHASES_V1 as STEP_PHASES

# Not bookkeeping nodes (catalog_filters.BOOKKEEPING_NODE_TYPES): what the list shows by default.
SHOWN = "NOT (node_type IN ('DAG', 'Steps', 'StepGroup', 'TaskGroup', 'Retry'))"
# Newest (longest) first with the steps not started (not finished) last. SQLite takes no NULLS
# clause in an index, but NULL is its smallest value: DESC puts them last already.
POSTGRES_INDEXES = f"""
CREATE INDEX step_list_started ON runs_step (started_at DESC NULLS LAST, id DESC) WHERE {SHOWN};
CREATE INDEX step_list_phase ON runs_step (phase, started_at DESC NULLS LAST, id DESC)
    WHERE {SHOWN};
CREATE INDEX step_list_took ON runs_step (took DESC NULLS LAST, id DESC) WHERE {SHOWN};
"""
SQLITE_INDEXES = [
    f"CREATE INDEX step_list_started ON runs_step (started_at DESC, id DESC) WHERE {SHOWN}",
    f"CREATE INDEX step_list_phase ON runs_step (phase, started_at DESC, id DESC) WHERE {SHOWN}",
    f"CREATE INDEX step_list_took ON runs_step (took DESC, id DESC) WHERE {SHOWN}",
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_INDEXES)
    elif vendor == "sqlite":
        for statement in SQLITE_INDEXES:
            schema_editor.execute(statement)
    STEP_PHASES.install(schema_editor.connection)
    ARTIFACT_KINDS.install(schema_editor.connection)


def backward(apps, schema_editor):
    STEP_PHASES.remove(schema_editor.connection)
    ARTIFACT_KINDS.remove(schema_editor.connection)
    for name in ("step_list_started", "step_list_phase", "step_list_took"):
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ('runs', '0011_run_list_speed'),
    ]

    operations = [
        migrations.CreateModel(
            name='ArtifactKindCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(max_length=20, unique=True)),
                ('n', models.BigIntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name='StepPhaseCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('bookkeeping', models.BooleanField()),
                ('phase', models.CharField(max_length=12)),
                ('n', models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RemoveIndex(
            model_name='artifact',
            name='artifact_kind_created',
        ),
        migrations.AddField(
            model_name='step',
            name='took',
            field=models.GeneratedField(db_persist=True, expression=django.db.models.expressions.CombinedExpression(models.F('finished_at'), '-', models.F('started_at')), output_field=models.DurationField()),
        ),
        migrations.AddIndex(
            model_name='artifact',
            index=models.Index(fields=['-created_at', '-id'], name='artifact_list_created'),
        ),
        migrations.AddIndex(
            model_name='artifact',
            index=models.Index(fields=['kind', '-created_at', '-id'], name='artifact_list_kind'),
        ),
        migrations.AddIndex(
            model_name='artifact',
            index=models.Index(fields=['-size', '-id'], name='artifact_list_size'),
        ),
        migrations.AddIndex(
            model_name='artifact',
            index=models.Index(fields=['name', 'id'], name='artifact_list_name'),
        ),
        migrations.AddConstraint(
            model_name='stepphasecount',
            constraint=models.UniqueConstraint(fields=('bookkeeping', 'phase'), name='step_phase_count_key'),
        ),
        migrations.RunPython(forward, backward),
    ]
