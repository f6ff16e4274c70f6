"""Failed logins lock the username and the client address, on the login page and the admin's."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clean_limits(settings):
    """The cache is the test's Redis: leave no lock behind for the other tests."""
    redis = cache._cache.get_client()

    def clear() -> None:
        for key in redis.keys(f"{settings.YDP_REDIS_PREFIX}*ydp:login:*"):
            redis.delete(key)

    clear()
    yield
    clear()


def _login(client, username: str, password: str, url: str | None = None, addr="10.0.0.1"):
    return client.post(
        url or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=addr
    )


def test_ten_failures_lock_the_username_then_the_window_ends(client, user, settings):
    settings.YDP_LOGIN_LOCK_SECONDS = 2
    for _ in range(10):
        assert _login(client, "alice", "wrong").status_code == 200
    response = _login(client, "alice", "pw-alice-123", addr="10.0.0.2")  # another address
    assert response.status_code == 200
    assert "Too many failed logins: wait 1 minute before trying again." in response.content.decode()
    time.sleep(2.1)
    assert _login(client, "alice", "pw-alice-123", addr="10.0.0.2").status_code == 302


def test_the_admin_login_is_limited_too(client, django_user_model):
    django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    url = reverse("admin:login")
    for _ in range(10):
        _login(client, "root", "wrong", url=url)
    response = _login(client, "root", "pw-root-123", url=url, addr="10.0.0.3")
    assert response.status_code == 200
    assert "Too many failed logins" in response.content.decode()


def test_an_address_is_locked_across_usernames_and_a_success_keeps_that_lock(
    client, user, django_user_model
):
    django_user_model.objects.create_user("bob", "bob@example.com", "pw-bob-123")
    for number in range(9):
        _login(client, f"nobody{number}", "wrong", addr="10.0.0.9")
    # Alice logs in from elsewhere: her success does not touch the address's count.
    assert _login(client, "alice", "pw-alice-123", addr="10.0.0.8").status_code == 302
    client.logout()
    _login(client, "nobody9", "wrong", addr="10.0.0.9")
    response = _login(client, "bob", "pw-bob-123", addr="10.0.0.9")
    assert "Too many failed logins" in response.content.decode()
    assert _login(client, "bob", "pw-bob-123", addr="10.0.0.7").status_code == 302
