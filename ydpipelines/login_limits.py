"""Login rate limits, per username and per client address, for the login page and the admin's.

After YDP_LOGIN_MAX_FAILURES failed logins within YDP_LOGIN_WINDOW_SECONDS, the username (or the
address) is locked for YDP_LOGIN_LOCK_SECONDS; the state lives in the shared cache (Redis under
`make run` and the tests). Both login forms call django.contrib.auth.authenticate(), so the
check sits in the authentication backend: a ValidationError raised there reaches the form's
clean() and is shown on it. A success clears only that username's failure count, never a lock.
The API's token checks use the same counters under their own scope (apps/api/auth.py).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.dispatch import receiver


def _limits() -> tuple[int, int, int]:
    return (
        int(getattr(settings, "YDP_LOGIN_MAX_FAILURES", 10)),
        int(getattr(settings, "YDP_LOGIN_WINDOW_SECONDS", 15 * 60)),
        int(getattr(settings, "YDP_LOGIN_LOCK_SECONDS", 15 * 60)),
    )


def _keys(request: Any, username: str | None, scope: str = "login") -> list[str]:
    keys = []
    if username:
        keys.append(f"ydp:{scope}:user:{username.strip().lower()}")
    address = request.META.get("REMOTE_ADDR") if request is not None else None
    if address:
        keys.append(f"ydp:{scope}:ip:{address}")
    return keys


def locked_for(request: Any, username: str | None, scope: str = "login") -> int:
    """Seconds until the username and the address may try again (0: not locked). `scope`
    keeps apart what is limited: "login" (the forms), "token" (API token checks)."""
    now = time.time()
    until = [cache.get(f"{key}:locked-until") or 0 for key in _keys(request, username, scope)]
    return max(0, int(max(until, default=0) - now + 0.999))


class RateLimitedModelBackend(ModelBackend):
    def authenticate(
        self,
        request: Any,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        wait = locked_for(request, username)
        if wait:
            minutes = (wait + 59) // 60
            raise ValidationError(
                f"Too many failed logins: wait {minutes} minute{'s' if minutes != 1 else ''} "
                "before trying again.",
                code="locked",
            )
        return super().authenticate(request, username=username, password=password, **kwargs)


@receiver(user_login_failed)
def _count_failure(sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    record_failure(request, credentials.get("username"))


def record_failure(request: Any, username: str | None, scope: str = "login") -> None:
    """Count a failed attempt; the one that reaches the limit locks the username and address."""
    limit, window, lock = _limits()
    for key in _keys(request, username, scope):
        cache.add(f"{key}:failures", 0, window)
        try:
            failures = cache.incr(f"{key}:failures")
        except ValueError:  # expired between add and incr
            cache.set(f"{key}:failures", 1, window)
            failures = 1
        if failures >= limit:
            cache.set(f"{key}:locked-until", time.time() + lock, lock)
            cache.delete(f"{key}:failures")


@receiver(user_logged_in)
def _forget_failures(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    cache.delete(f"ydp:login:user:{user.get_username().strip().lower()}:failures")
