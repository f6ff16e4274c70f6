"""The API's one error shape: `{"message": "...", "field": "..."}` with the status that fits
(400 bad input, 401 no or bad credentials, 403 read-only token, 404 unknown or not visible,
409 refused by the object's state, 429 too many failed token checks, 502 Argo refused)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from apps.api.schemas import ErrorOut

# What every operation may answer besides its success (documented in the OpenAPI document).
ERRORS: dict[int, Any] = dict.fromkeys((400, 401, 403, 404, 409, 429), ErrorOut)
# ... and those that ask Argo (terminate, retry, a live log, schedules) when it refuses.
ARGO_ERRORS: dict[int, Any] = {**ERRORS, 502: ErrorOut}


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def error_response(status: int, message: str, field: str = "") -> JsonResponse:
    return JsonResponse({"message": message, "field": field}, status=status)


def from_django(error: DjangoValidationError) -> ApiError:
    """A model or service ValidationError: its first message, keyed by its field."""
    if hasattr(error, "error_dict"):
        field, errors = next(iter(error.error_dict.items()))
        messages = [m for e in errors for m in e.messages]
        name = "" if field == "__all__" else field
        return ApiError(400, messages[0] if messages else "Invalid value.", name)
    return ApiError(400, error.messages[0] if error.messages else "Invalid value.")


def from_form(form: Any) -> ApiError:
    field, messages = next(iter(form.errors.items()))
    return ApiError(400, str(messages[0]), "" if field == "__all__" else field)


def _field(loc: list[Any]) -> str:
    # ninja's locations are ("body", "payload", "name"), ("query", "size"), ("file",)...
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "form", "file", "payload")]
    return ".".join(parts) or (str(loc[-1]) if loc else "")


def install(api: NinjaAPI) -> None:
    @api.exception_handler(ApiError)
    def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return error_response(exc.status, exc.message, exc.field)

    @api.exception_handler(NinjaValidationError)
    def _invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        first = exc.errors[0] if exc.errors else {}
        message = str(first.get("msg", "Invalid input."))
        field = _field(list(first.get("loc", [])))
        return error_response(400, f"{field}: {message}" if field else message, field)

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        response = error_response(
            401,
            "Sign in, or send a token: Authorization: Bearer ydp_… (create one under Settings, "
            "API tokens).",
            "Authorization",
        )
        response["WWW-Authenticate"] = 'Bearer realm="ydpipelines"'
        return response

    @api.exception_handler(HttpError)
    def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        return error_response(exc.status_code, str(exc))

    @api.exception_handler(Http404)
    def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        text = str(exc)
        if not text or "matches the given query" in text:
            text = "Not found."
        return error_response(404, text)

    @api.exception_handler(DjangoValidationError)
    def _django_invalid(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        error = from_django(exc)
        return error_response(error.status, error.message, error.field)
