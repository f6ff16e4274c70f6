"""Who calls the API: a personal access token (`Authorization: Bearer ydp_…`) or the browser's
session (with Django's CSRF check on unsafe methods). Write operations need a write token or a
session; a read token gets 403 there.

Failed token checks are counted per client address (ydpipelines/login_limits.py, scope
"token"); past the limit the address gets 429 until the lock ends, right or wrong token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from apps.api.errors import ApiError
from apps.api.models import ApiToken
from apps.api.tokens import check_token
from ydpipelines.login_limits import locked_for, record_failure

SCOPE = "token"


@dataclass
class Caller:
    user: Any
    can_write: bool
    token: ApiToken | None = None


class TokenAuth(HttpBearer):
    def __init__(self, *, write: bool = False) -> None:
        super().__init__()
        self.write = write

    def authenticate(self, request: HttpRequest, token: str) -> Caller:
        wait = locked_for(request, None, SCOPE)
        if wait:
            raise ApiError(
                429, f"Too many failed token checks: try again in {wait} s.", "Authorization"
            )
        found = check_token(token)
        if found is None:
            record_failure(request, None, SCOPE)
            raise ApiError(
                401, "The token is not valid: unknown, revoked or expired.", "Authorization"
            )
        if self.write and not found.can_write:
            raise ApiError(403, f"The token “{found.name}” is read-only.", "Authorization")
        request.user = found.user
        request.api_token = found  # type: ignore[attr-defined]  # read by apps.projects.scope
        return Caller(found.user, found.can_write, found)


class BrowserSession(SessionAuth):
    """The signed-in browser; ninja checks the CSRF token before this runs. Without a session
    cookie there is nothing to check (a script without a token gets 401, not a CSRF 403)."""

    def __call__(self, request: HttpRequest) -> Caller | None:
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return None
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Caller | None:
        user = request.user
        if user.is_authenticated and user.is_active:
            return Caller(user, True)
        return None


READ = [TokenAuth(), BrowserSession()]
WRITE = [TokenAuth(write=True), BrowserSession()]
