"""Checking the runtime parameters a user gives against the ones a version declares (what each
type accepts lives in apps.pipelines.parameters)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from apps.pipelines.parameters import argo_value


def resolve_parameters(declared: list[dict[str, Any]], given: dict[str, Any]) -> dict[str, str]:
    """Every declared parameter with its value: given, else its default. Raises ValidationError
    with one message per bad parameter (keyed by name) and for names the version doesn't know."""
    errors: dict[str, list[str]] = {}
    known = {p["name"] for p in declared}
    for name in given:
        if name not in known:
            errors.setdefault(name, []).append(
                f"{name}: the pipeline version has no such parameter"
            )
    values: dict[str, str] = {}
    for param in declared:
        name = param["name"]
        raw = given.get(name)
        if raw is None or raw == "":
            raw = param.get("default")
        if (raw is None or raw == "") and param.get("required"):
            errors.setdefault(name, []).append(f"{name}: a value is required")
            continue
        if raw is None:
            values[name] = ""
            continue
        try:
            values[name] = argo_value(param.get("type", "String"), raw)
        except ValueError as exc:
            errors.setdefault(name, []).append(f"{name}: {exc} ({param.get('type')} expected)")
    if errors:
        raise ValidationError(errors)
    return values
