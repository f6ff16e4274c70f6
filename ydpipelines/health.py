"""Health endpoints for Kubernetes probes and load balancers.

`/healthz` (liveness) answers as long as the process serves requests: it touches nothing else,
so a database outage never gets the web pods restarted. `/readyz` (readiness) checks what a page
or a submit needs, each dependency in its own thread with a short deadline, and answers 503 with
the names of what failed, so that a pod stops receiving traffic instead of serving errors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

Check = Callable[[float], None]


def check_database(timeout: float) -> None:
    # Runs in a worker thread, so on a connection of its own: closed here, never left open.
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()


def check_cache(timeout: float) -> None:
    key = "ydp:readyz"
    cache.set(key, "1", timeout=30)
    if cache.get(key) != "1":
        raise RuntimeError("the cache did not return what was just stored")


def check_broker(timeout: float) -> None:
    from ydpipelines.celery import app

    with app.connection_for_write(connect_timeout=timeout) as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)


def check_argo(timeout: float) -> None:
    from apps.orchestration.argo import get_client

    get_client().ping(timeout=timeout)


CHECKS: dict[str, Check] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "argo": check_argo,
}


def run_checks(checks: dict[str, Check], timeout: float) -> dict[str, str]:
    """`ok`, `timeout` or the exception's class name for each check; all run at once, so the
    whole answer takes at most `timeout` whatever hangs."""
    pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="readyz")
    futures = {name: pool.submit(check, timeout) for name, check in checks.items()}
    wait(futures.values(), timeout=timeout)
    # A hung check's thread ends with its own socket timeout; nobody waits for it here.
    pool.shutdown(wait=False, cancel_futures=True)
    results: dict[str, str] = {}
    for name, future in futures.items():
        if not future.done():
            results[name] = "timeout"
        elif (error := future.exception()) is not None:
            # The details (hosts, users) go to the log, not to an unauthenticated caller.
            logger.warning("readyz: %s failed: %s: %s", name, type(error).__name__, error)
            results[name] = type(error).__name__
        else:
            results[name] = "ok"
    return results


@login_not_required
@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    results = run_checks(CHECKS, settings.YDP_READY_TIMEOUT_SECONDS)
    failed = sorted(name for name, result in results.items() if result != "ok")
    body = {"status": "unavailable" if failed else "ok", "failed": failed, "checks": results}
    return JsonResponse(body, status=503 if failed else 200)
