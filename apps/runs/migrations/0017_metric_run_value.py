"""A run's value of a metric from the index alone: the runs list probes the metric predicates
it does not join, and its capped counts probe every predicate but the first, per run read
(docs/scale.md). Without it each probe also read the row from the table."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('runs', '0016_sync_index_off_last_synced'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='metric',
            index=models.Index(fields=['run', 'name', 'value'], name='metric_run_value'),
        ),
    ]
