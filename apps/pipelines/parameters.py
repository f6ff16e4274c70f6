"""What a pipeline parameter of each declared type accepts: the one home of that rule.

The importer checks declared defaults with `typed_value`, rendering writes defaults with
`argo_value`, and a run's values (form, service, clone, recurring run) go through `argo_value`
too, so "3.0", "yes" or Arabic-Indic digits read the same wherever they come from:

- Integer: a whole number, written any way a number may be ("3", "3.0", "1e3"); Argo gets
  plain digits ("3", "1000").
- Float: a finite number; Argo gets the number as written (ASCII digits).
- Bool: true/1/yes/on or false/0/no/off, any case; Argo gets "true" or "false".
- String: anything; None is the empty string.

Digits of other scripts (Arabic-Indic, full-width, ...) count as digits, as Python's int() and
float() count them, but Argo always receives ASCII: steps and Argo expressions parse it as is.
"""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal
from typing import Any

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})

_NUMERAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_NOT_FINITE = frozenset({"nan", "inf", "infinity"})
# Python refuses to print ints longer than this by default; a larger "whole number" is a typo.
_MAX_DIGITS = 4300


def _text(raw: Any) -> str:
    return "" if raw is None else str(raw).strip()


def _ascii_numeral(text: str) -> str | None:
    """`text` as an ASCII numeral (digits of any script mapped to 0-9), or None if it is none."""
    if not text.isascii():
        text = "".join(
            str(unicodedata.decimal(ch)) if unicodedata.decimal(ch, None) is not None else ch
            for ch in text
        )
    return text if _NUMERAL.fullmatch(text) else None


def _whole(raw: Any) -> int:
    text = _text(raw)
    if isinstance(raw, bool):
        raise ValueError(f"{text!r} is not a whole number")
    numeral = _ascii_numeral(text)
    if numeral is None:
        raise ValueError(f"{text!r} is not a whole number")
    number = Decimal(numeral)
    if number.adjusted() >= _MAX_DIGITS:
        raise ValueError(f"{text!r} is too large a number")
    if number != number.to_integral_value():
        raise ValueError(f"{text!r} is not a whole number")
    return int(number)


def _finite(raw: Any) -> tuple[str, float]:
    """The ASCII numeral and its value; ValueError unless a finite number."""
    text = _text(raw)
    if isinstance(raw, bool):
        raise ValueError(f"{text!r} is not a number")
    numeral = _ascii_numeral(text)
    if numeral is None:
        if text.lower().lstrip("+-") in _NOT_FINITE:
            raise ValueError(f"{text!r} is not a finite number")
        raise ValueError(f"{text!r} is not a number")
    value = float(numeral)
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return numeral, value


def parse_bool(raw: Any) -> bool:
    """True or False from a bool or one of the words above; ValueError otherwise."""
    if isinstance(raw, bool):
        return raw
    word = _text(raw).lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{_text(raw)!r} is not true or false")


def argo_value(kind: str, raw: Any) -> str:
    """A parameter value as the string Argo carries; raises ValueError with a readable reason.
    An unknown kind is a String."""
    if kind == "Integer":
        return str(_whole(raw))
    if kind == "Float":
        return _finite(raw)[0]
    if kind == "Bool" or isinstance(raw, bool):
        return "true" if parse_bool(raw) else "false"
    return "" if raw is None else str(raw)


def typed_value(kind: str, raw: Any) -> bool | int | float | str | None:
    """A declared default as the Python value stored with the version (None or "": no default);
    raises ValueError with a readable reason."""
    if raw is None or raw == "":
        return None
    if kind == "Integer":
        return _whole(raw)
    if kind == "Float":
        return _finite(raw)[1]
    if kind == "Bool":
        return parse_bool(raw)
    return str(raw)


def display_value(kind: str, raw: Any) -> str:
    """A default or stored value as a form shows it: the Argo string where the value fits the
    kind, else the value as it is (so the user sees, and can correct, what was carried)."""
    if raw is None:
        return ""
    try:
        return argo_value(kind, raw)
    except ValueError:
        return str(raw)
