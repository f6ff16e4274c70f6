"""Signed URLs from which a running step fetches its version's bundle and the step runner.

A step pod has no session, so the bundle URL carries an HMAC of the version id (salted, keyed by
SECRET_KEY): only the app can mint it, and it names exactly one bundle. There is no expiry because
a stored manifest (and every retry of its runs) keeps using the same URL.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.crypto import constant_time_compare

_SALT = "ydpipelines.bundles"


def bundle_signature(version_id: uuid.UUID | str) -> str:
    """A URL-safe HMAC of the version id."""
    return signing.Signer(salt=_SALT).signature(str(version_id))


def check_bundle_signature(version_id: uuid.UUID | str, signature: str) -> bool:
    return constant_time_compare(bundle_signature(version_id), signature)


def bundle_url(version_id: uuid.UUID | str) -> str:
    """Absolute URL of the version's bundle zip, as a step pod downloads it."""
    path = reverse(
        "steps:bundle",
        kwargs={"version_id": str(version_id), "signature": bundle_signature(version_id)},
    )
    return settings.YDP_PUBLIC_URL + path


def runner_url() -> str:
    """Absolute URL of ydpipelines/steprunner.py."""
    return settings.YDP_PUBLIC_URL + reverse("steps:runner")
