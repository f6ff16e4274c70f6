"""How a transactional test's database is emptied when it ends, made safe to share.

Django's flush is one TRUNCATE of every table. A request the live server is still answering
(a browser test's page polls until its context closes) or a process of the app a test started
can hold a lock that TRUNCATE needs while it waits on one TRUNCATE took: PostgreSQL ends that
deadlock by failing the TRUNCATE, which waited first. The test's rows then stay, and every
later test on that worker meets them (CI on 2026-12-06: a browser test's user, pipeline and
version broke 90 tests after it). So a flush that fails is tried again. (Waiting for the live
server's requests first would wait on every open event stream: a run page's holds its thread
until the stream's next write finds the browser gone.)"""

from __future__ import annotations

import time

from django.core.management.base import CommandError
from django.db import DatabaseError
from django.test import TransactionTestCase

ATTEMPTS = 5


def flush_with_retries(case: TransactionTestCase, flush) -> None:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            flush(case)
            return
        except (CommandError, DatabaseError):
            if attempt == ATTEMPTS:
                raise
            time.sleep(0.5 * attempt)  # the live server's pages were closed: their requests end


def install() -> None:
    """Every transactional test's teardown (pytest-django's too) goes through this."""
    flush = TransactionTestCase._fixture_teardown
    if getattr(flush, "retries", False):
        return

    def _fixture_teardown(self: TransactionTestCase) -> None:
        flush_with_retries(self, flush)

    _fixture_teardown.retries = True  # type: ignore[attr-defined]
    _fixture_teardown.once = flush  # type: ignore[attr-defined]
    TransactionTestCase._fixture_teardown = _fixture_teardown  # type: ignore[method-assign]
