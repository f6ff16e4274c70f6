"""What lets test sessions run side by side (xdist workers, two checkouts on one machine): each
has its own Redis keys, looks only at the processes it started, and hashes passwords fast."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from django.core.cache import cache

from tests.processes import app_env, descendants, gone


def test_the_cache_and_the_broker_write_under_this_sessions_prefix(settings):
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs Redis: run the suite with REDIS_URL set (make test does)")
    import redis

    prefix = settings.YDP_REDIS_PREFIX
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    assert prefix.startswith(f"ydp-test-{worker}-") and prefix.endswith(":")
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] == prefix
    cache.set("isolation-probe", 1, 30)
    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        assert [k.decode() for k in client.scan_iter("*isolation-probe")] == [
            f"{prefix}:1:isolation-probe"
        ]
    finally:
        cache.delete("isolation-probe")


def test_the_app_processes_a_test_starts_get_the_prefix_and_the_fast_hasher(settings, tmp_path):
    settings.ARGO_SERVER, settings.ARGO_NAMESPACE = "http://127.0.0.1:9", "argo"
    env = app_env(settings, redis_url="redis://127.0.0.1:6379/0", data_dir=tmp_path)
    assert env["YDP_PASSWORD_HASHERS"] == "django.contrib.auth.hashers.MD5PasswordHasher"
    assert env.get("YDP_REDIS_PREFIX", "") == settings.YDP_REDIS_PREFIX


def test_descendants_sees_the_whole_tree_of_one_process_and_gone_waits_for_it():
    shell = subprocess.Popen(
        ["sh", "-c", "sleep 30 & (sleep 31 & wait) & wait"], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 10
        while True:  # the shells need a moment to start their children
            sleeps = [pid for pid, name in descendants(shell.pid).items() if name == "sleep"]
            if len(sleeps) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert len(sleeps) == 2, descendants(shell.pid)
        assert os.getpid() not in descendants(shell.pid)
        assert not gone(sleeps, 0.2)
        os.killpg(shell.pid, signal.SIGKILL)
        assert gone(sleeps)
    finally:
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
        shell.wait()
