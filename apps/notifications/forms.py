from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings

from apps.notifications.constants import Channel, Event
from apps.notifications.models import Subscription


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_url_error(url: str) -> str | None:
    """Why a webhook URL is refused, or None: https only (the body is signed, not secret),
    plain http to loopback only where YDP_NOTIFY_ALLOW_HTTP_LOOPBACK is on (tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return None
    loopback = _is_loopback(parts.hostname or "")
    if parts.scheme == "http" and settings.YDP_NOTIFY_ALLOW_HTTP_LOOPBACK and loopback:
        return None
    return "A webhook URL must start with https://."


class SubscriptionForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=Event.choices, widget=forms.CheckboxSelectMultiple, initial=[Event.RUN_FAILED]
    )
    url = forms.URLField(max_length=500, required=False, assume_scheme="https", label="Webhook URL")

    class Meta:
        model = Subscription
        fields = ["channel", "email", "url", "events"]
        labels = {"email": "Email address"}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        channel = data.get("channel")
        if channel == Channel.EMAIL:
            data["url"] = ""
            if not data.get("email"):
                self.add_error("email", "Give the address to write to.")
        elif channel == Channel.WEBHOOK:
            data["email"] = ""
            url = data.get("url")
            if not url:
                if "url" not in self.errors:
                    self.add_error("url", "Give the URL to post to.")
            elif error := webhook_url_error(url):
                self.add_error("url", error)
        return data
