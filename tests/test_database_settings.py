"""The app's PostgreSQL sessions run their queries without parallel workers (settings.py): a
page query that reads an index for 1-3 ms would wait about 20 ms for a worker to start."""

import pytest
from django.db import connection


@pytest.mark.django_db
def test_no_parallel_workers_for_the_apps_queries():
    if connection.vendor != "postgresql":
        pytest.skip("parallel query is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone()[0] == "0"
