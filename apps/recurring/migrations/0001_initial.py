"""RecurringRun moves here from the runs app, table and rows untouched: this app takes the model
into its state only (the table runs_recurringrun was created by runs 0001-0008, and keeps its
name); runs 0009 lets go of it, also in state only."""

import django.core.validators
import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('experiments', '0001_initial'),
        ('pipelines', '0002_engine_check'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('runs', '0008_recurringrun_revision'),  # the table exists, with every column
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='RecurringRun',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('name', models.CharField(max_length=200)),
                        ('description', models.TextField(blank=True)),
                        ('parameters', models.JSONField(blank=True, default=dict)),
                        ('trigger_type', models.CharField(choices=[('cron', 'Cron expression'), ('periodic', 'Every N minutes/hours/days/weeks')], max_length=10)),
                        ('cron', models.CharField(blank=True, help_text='5-field cron expression.', max_length=120)),
                        ('interval_seconds', models.PositiveIntegerField(blank=True, null=True)),
                        ('timezone', models.CharField(default='UTC', max_length=64)),
                        ('start_at', models.DateTimeField(blank=True, null=True)),
                        ('end_at', models.DateTimeField(blank=True, null=True)),
                        ('max_concurrency', models.PositiveSmallIntegerField(default=1, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(10)])),
                        ('catchup', models.BooleanField(default=False)),
                        ('enabled', models.BooleanField(default=True)),
                        ('cron_workflow_name', models.CharField(blank=True, max_length=63)),
                        ('namespace', models.CharField(blank=True, max_length=63)),
                        ('last_synced_at', models.DateTimeField(blank=True, null=True)),
                        ('sync_error', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('revision', models.PositiveIntegerField(default=1)),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('experiment', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='recurring_runs', to='experiments.experiment')),
                        ('pipeline', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='recurring_runs', to='pipelines.pipeline')),
                        ('pipeline_version', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='recurring_runs', to='pipelines.pipelineversion')),
                    ],
                    options={
                        'db_table': 'runs_recurringrun',
                        'ordering': ['-created_at'],
                        'constraints': [models.CheckConstraint(condition=models.Q(('max_concurrency__gte', 1), ('max_concurrency__lte', 10)), name='recurringrun_max_concurrency_1_10'), models.CheckConstraint(condition=models.Q(('end_at__isnull', True), ('start_at__isnull', True), ('end_at__gt', models.F('start_at')), _connector='OR'), name='recurringrun_end_after_start')],
                    },
                ),
            ],
        ),
    ]
