"""Issuing and checking personal access tokens.

A token carries 256 random bits, so a plain SHA-256 is enough to store it (a slow password hash
protects guessable secrets; this one cannot be guessed), and the lookup costs one indexed query."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.api.models import ApiToken, TokenRole

PREFIX_LENGTH = 8
MAX_TOKENS_PER_USER = 50
# ydp_ + 8 hex digits + _ + 43 characters of base64url (32 bytes)
_TOKEN = re.compile(r"^ydp_(?P<prefix>[0-9a-f]{8})_(?P<secret>[A-Za-z0-9_-]{43})$")
# last_used_at is written at most this often: a busy CI must not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(ValueError):
    """The token cannot be created; the message says why (for the form's field `field`)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    user: Any,
    *,
    name: str,
    role: str = TokenRole.READ,
    expires_at: datetime | None = None,
    project_id: int | None = None,
) -> tuple[ApiToken, str]:
    """A new token for `user` and its text, which is never stored and cannot be shown again."""
    name = " ".join((name or "").split())
    if not name:
        raise TokenError("Give the token a name (what will use it, e.g. “CI”).", "name")
    if len(name) > 100:
        raise TokenError("The name is longer than 100 characters.", "name")
    if role not in TokenRole.values:
        raise TokenError(f"The role is “read” or “write”, not “{role}”.", "role")
    if expires_at is not None and expires_at <= timezone.now():
        raise TokenError("The expiry date has passed: choose a later one.", "expires_at")
    if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_TOKENS_PER_USER:
        raise TokenError(f"You have {MAX_TOKENS_PER_USER} tokens: revoke one first.", "name")
    for _ in range(5):  # a prefix collision is a 1 in 4 billion event; try again then
        prefix = secrets.token_hex(PREFIX_LENGTH // 2)
        text = f"ydp_{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(
                    user=user,
                    name=name,
                    prefix=prefix,
                    secret_hash=_digest(text),
                    role=role,
                    expires_at=expires_at,
                    project_id=project_id,
                )
        except IntegrityError:
            continue
        return token, text
    raise TokenError("Could not create a token: try again.")  # pragma: no cover


def check_token(text: str) -> ApiToken | None:
    """The usable token `text` is, with its user loaded; None for anything else (malformed,
    unknown, wrong secret, revoked, expired, inactive user). Marks it used."""
    match = _TOKEN.match(text.strip())
    if match is None:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=match["prefix"]).first()
    if token is None or not hmac.compare_digest(token.secret_hash, _digest(text.strip())):
        return None
    if not token.is_usable or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def revoke_token(token: ApiToken) -> None:
    if token.revoked_at is None:
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
