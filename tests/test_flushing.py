"""A transactional test's flush that PostgreSQL picks as a deadlock's victim is tried again,
so the test's rows never outlive it (tests/flushing.py). The deadlock is made for real: a
second session holds the last table TRUNCATE will lock, then asks for its first one.

PostgreSQL looks for a deadlock once per wait, after that session's deadlock_timeout: the
flush's session looks after 2 s and the other's after a minute, so the flush is the victim
however late the other session closes the cycle on a loaded machine."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.management.base import CommandError
from django.db import connection, connections
from django.test import TransactionTestCase

from tests.flushing import flush_with_retries

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite's flush is DELETEs"),
    pytest.mark.timeout(60),
]


def hold_last_then_ask_first(ready: threading.Event, done: list[str]) -> None:
    """Another session (as a live server's request is): read the last table flush truncates,
    wait until TRUNCATE waits on it, then read the first, which TRUNCATE holds."""
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    first, last = tables[0], tables[-1]
    other = connections.create_connection("default")
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute("SET deadlock_timeout = '60s'")
            cursor.execute(f'SELECT 1 FROM "{last}" LIMIT 1')
            ready.set()
            for _ in range(1000):
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
    with connection.cursor() as cursor:
        cursor.execute("SET deadlock_timeout = '2s'")
    other.start()
    assert ready.wait(10)
    try:
        teardown(TransactionTestCase())
    finally:
        other.join(30)
        with connection.cursor() as cursor:
            cursor.execute("RESET deadlock_timeout")
    return done


def test_a_flush_picked_as_a_deadlocks_victim_fails_alone(django_user_model) -> None:
    """The fault, without the retry: Django's flush fails and the row stays."""
    django_user_model.objects.create_user("kept")
    with pytest.raises(CommandError, match="couldn't be flushed") as failed:
        flush_during_deadlock(TransactionTestCase._fixture_teardown.once)
    assert "deadlock detected" in str(failed.value.__cause__)
    assert django_user_model.objects.filter(username="kept").exists()


def test_a_flush_picked_as_a_deadlocks_victim_is_tried_again(django_user_model) -> None:
    django_user_model.objects.create_user("kept")
    attempts: list[str] = []

    def counted(case: TransactionTestCase) -> None:
        try:
            TransactionTestCase._fixture_teardown.once(case)
        except CommandError as exc:
            attempts.append(str(exc.__cause__))
            raise
        attempts.append("flushed")

    done = flush_during_deadlock(lambda case: flush_with_retries(case, counted))
    assert done == ["read both"]
    assert len(attempts) == 2 and "deadlock detected" in attempts[0], attempts
    assert attempts[1] == "flushed"
    assert not django_user_model.objects.exists()


def test_the_teardown_of_every_transactional_test_retries() -> None:
    assert TransactionTestCase._fixture_teardown.retries
