"""The sync's index of the active runs is keyed by submitted_at, not last_synced_at: every
pass writes every active run's last_synced_at, and an index key there kept each of those
updates from being HOT (each inserted into all the table's indexes)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('experiments', '0002_experiment_project'),
        ('pipelines', '0003_pipeline_project'),
        ('recurring', '0001_initial'),
        ('runs', '0015_catalog_counts_by_experiment'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='run',
            name='run_active_last_synced',
        ),
        migrations.AddIndex(
            model_name='run',
            index=models.Index(condition=models.Q(('state__in', ['Pending', 'Running'])), fields=['submitted_at'], name='run_active_submitted'),
        ),
    ]
