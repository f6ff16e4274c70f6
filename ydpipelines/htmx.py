"""The request type of every view: Django's HttpRequest with django-htmx's `request.htmx`
(HtmxMiddleware sets it on each request), declared once so type checkers know the attribute."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
