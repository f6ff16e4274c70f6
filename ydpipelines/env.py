"""Typed helpers that read configuration from environment variables."""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default: str = "") -> str:
    """A string setting; a `NAME_FILE` variable (Kubernetes secrets) wins over `NAME`."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    """A yes/no setting; a value that is neither (a typo such as `flase`) is refused, since
    reading it as False could silently turn a security setting off."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    word = value.strip().lower()
    if word not in _TRUE | _FALSE:
        raise ImproperlyConfigured(
            f"{name}={value!r}: expected one of 1/0, true/false, yes/no, on/off"
        )
    return word in _TRUE


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_pair(name: str) -> tuple[str, str] | None:
    """Two comma-separated values (`HEADER,value`), or None when unset."""
    items = env_list(name)
    if not items:
        return None
    if len(items) != 2:
        raise ImproperlyConfigured(f"{name}: expected two comma-separated values, got {items!r}")
    return items[0], items[1]
