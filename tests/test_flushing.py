"""A transactional test's flush that PostgreSQL picks as a deadlock's victim is tried again,
so the test's rows never outlive it (tests/flushing.py). The deadlock is made for real: a
second session holds the last table TRUNCATE will lock, then asks for its first one."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.management.base import CommandError
from django.db import connection, connections
from django.test import TransactionTestCase

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite's flush is DELETEs"),
    pytest.mark.timeout(60),
]


def deadlocks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def hold_last_then_ask_first(ready: threading.Event, done: list[str]) -> None:
    """Another session (as a live server's request is): read the last table flush truncates,
    wait until TRUNCATE waits on it, then read the first, which TRUNCATE holds."""
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    first, last = tables[0], tables[-1]
    other = connections.create_connection("default")
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute(f'SELECT 1 FROM "{last}" LIMIT 1')
            ready.set()
            for _ in range(500):
                cursor.execute(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                    " WHERE c.relname = %s AND NOT l.granted",
                    [last],
                )
                if cursor.fetchone()[0]:
                    break
                time.sleep(0.01)
            else:
                done.append("TRUNCATE never waited")
                return
            cursor.execute(f'SELECT 1 FROM "{first}" LIMIT 1')
        other.rollback()
        done.append("read both")
    finally:
        other.close()


def flush_during_deadlock(teardown) -> list[str]:
    ready, done = threading.Event(), []
    other = threading.Thread(target=hold_last_then_ask_first, args=(ready, done))
    other.start()
    assert ready.wait(10)
    try:
        teardown(TransactionTestCase())
    finally:
        other.join(30)
    return done


def test_a_flush_picked_as_a_deadlocks_victim_fails_alone(django_user_model) -> None:
    """The fault, without the retry: Django's flush fails and the row stays."""
    django_user_model.objects.create_user("kept")
    before = deadlocks()
    with pytest.raises(CommandError, match="couldn't be flushed"):
        flush_during_deadlock(TransactionTestCase._fixture_teardown.once)
    assert deadlocks() == before + 1
    assert django_user_model.objects.filter(username="kept").exists()


def test_a_flush_picked_as_a_deadlocks_victim_is_tried_again(django_user_model) -> None:
    django_user_model.objects.create_user("kept")
    before = deadlocks()
    done = flush_during_deadlock(TransactionTestCase._fixture_teardown)
    assert done == ["read both"]
    assert deadlocks() == before + 1
    assert not django_user_model.objects.exists()
