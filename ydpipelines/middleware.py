"""Response headers the app sets for every page."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

SERVER_NAME = "ydpipelines"


class ServerHeaderMiddleware:
    """A neutral `Server` header. The development server (runserver, which `make run` starts)
    would otherwise send `WSGIServer/0.2 CPython/3.x.y`; wsgiref keeps a header the app set."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response["Server"] = SERVER_NAME
        return response
