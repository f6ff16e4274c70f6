"""A Content-Security-Policy on every response that has none of its own (Django 5.2 has no
built-in CSP). Views that serve untrusted content set a stricter one (a `sandbox`) and keep it."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"

POLICY = "; ".join(
    [
        "default-src 'self'",
        # Scripts only from our own files: no inline script, no eval (htmx runs with
        # allowEval off, see base.html), so markup that slips into a page cannot run.
        "script-src 'self'",
        # Inline styles stay allowed: ECharts positions its tooltips and the graph SVG carries
        # its own <style>; a style cannot run script, and templates use style="" attributes.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        # Artifacts are shown in sandboxed frames served by the app itself.
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = POLICY
        return response
