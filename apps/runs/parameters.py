"""Checking the runtime parameters a user gives against the ones a version declares."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def coerce_value(kind: str, raw: Any) -> str:
    """The parameter as the string Argo receives; raises ValueError with a readable reason."""
    text = "" if raw is None else str(raw).strip()
    if kind == "Integer":
        try:
            return str(int(text))
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
    if kind == "Float":
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{text!r} is not a finite number")
        return text
    if kind == "Bool":
        if text.lower() in _TRUE:
            return "true"
        if text.lower() in _FALSE:
            return "false"
        raise ValueError(f"{text!r} is not true or false")
    return "" if raw is None else str(raw)


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
            values[name] = coerce_value(param.get("type", "String"), raw)
        except ValueError as exc:
            errors.setdefault(name, []).append(f"{name}: {exc} ({param.get('type')} expected)")
    if errors:
        raise ValidationError(errors)
    return values
