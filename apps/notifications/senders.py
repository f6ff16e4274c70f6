"""Sending one notification: a signed webhook POST or an email. Each raises SendError, which
says whether trying again could help (network errors, 5xx) or not (4xx, a refused address)."""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
from typing import Any

import requests
from django.conf import settings
from django.core.mail import send_mail

from apps.notifications.constants import SIGNATURE_HEADER, TIMESTAMP_HEADER


class SendError(Exception):
    def __init__(self, message: str, *, permanent: bool, status_code: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.status_code = status_code


def signature(body: bytes, secret: str) -> str:
    """The value of X-YDP-Signature: the body's HMAC-SHA256 with the subscription's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(url: str, secret: str, payload: dict[str, Any]) -> int:
    """POST the payload (with the time it was sent, so the signature covers it) and return
    the status code of a 2xx answer."""
    timestamp = str(int(time.time()))
    body = json.dumps({**payload, "timestamp": int(timestamp)}, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(body, secret),
        TIMESTAMP_HEADER: timestamp,
        "User-Agent": "ydpipelines-webhook",
    }
    try:
        response = requests.post(
            url,
            data=body,
            headers=headers,
            timeout=settings.YDP_NOTIFY_TIMEOUT_SECONDS,
            # A redirect could carry the signed body somewhere the owner did not name.
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise SendError(f"{type(exc).__name__}: {exc}", permanent=False) from exc
    code = response.status_code
    if 200 <= code < 300:
        return code
    reason = f"HTTP {code} {response.reason or ''}".strip()
    raise SendError(reason, permanent=code < 500, status_code=code)


def send_email(address: str, subject: str, text: str) -> None:
    try:
        send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, [address])
    except smtplib.SMTPRecipientsRefused as exc:
        raise SendError(f"address refused: {exc}", permanent=True) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise SendError(f"{type(exc).__name__}: {exc}", permanent=False) from exc
