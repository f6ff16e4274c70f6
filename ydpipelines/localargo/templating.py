"""``{{...}}`` substitution the way Argo does it: simple tags from a flat scope, ``{{=...}}``
expressions through the safe evaluator, unknown tags left as they are."""

from __future__ import annotations

import json
from collections import ChainMap
from collections.abc import Mapping, MutableMapping
from typing import Any

from .expressions import ExpressionError, eval_expr, to_str


def find_tags(text: str) -> list[tuple[int, int, str]]:
    """(start, end, inner) for each ``{{ ... }}`` in text."""
    out = []
    i = 0
    while True:
        start = text.find("{{", i)
        if start < 0:
            return out
        end = text.find("}}", start + 2)
        if end < 0:
            return out
        out.append((start, end + 2, text[start + 2 : end].strip()))
        i = end + 2


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{'a.b.c': 1}`` -> ``{'a': {'b': {'c': 1}}}`` (deeper keys win over a JSON summary)."""
    root: dict[str, Any] = {}
    for key in sorted(flat, key=lambda k: k.count(".")):
        parts = key.split(".")
        node = root
        for part in parts[:-1]:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = {}
                node[part] = nxt
            node = nxt
        if not isinstance(node.get(parts[-1]), dict):
            node[parts[-1]] = flat[key]
    return root


class Scope:
    """Variables visible to a template: a flat ``name -> value`` map, nested on demand."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self.values: MutableMapping[str, Any] = dict(values or {})
        self._nested: dict[str, Any] | None = None

    def child(self, extra: Mapping[str, Any]) -> Scope:
        s = Scope(self.values)
        s.values.update(extra)
        return s

    def layered(self, extra: Mapping[str, Any]) -> Scope:
        """A child that reads ``extra`` over this scope without copying either (a DAG pass
        gives each of its tasks the finished tasks' outputs this way): neither may change
        while the child is in use, and the child is read-only."""
        s = Scope()
        s.values = ChainMap(extra, self.values)  # type: ignore[arg-type]
        return s

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value
        self._nested = None

    def nested(self) -> dict[str, Any]:
        if self._nested is None:
            self._nested = nest(self.values)
        return self._nested

    def render(self, text: str, strict_expr: bool = False) -> str:
        if "{{" not in text:
            return text
        pieces = []
        last = 0
        for start, end, inner in find_tags(text):
            pieces.append(text[last:start])
            last = end
            if inner.startswith("="):
                try:
                    value = eval_expr(inner[1:], self.nested())
                except (ExpressionError, KeyError, IndexError, TypeError, ValueError) as exc:
                    # Argo's last pass: an expression that cannot be evaluated is an error,
                    # never text handed on to the step
                    if strict_expr:
                        raise ExpressionError(f"failed to evaluate expression: {exc}") from exc
                    pieces.append(text[start:end])
                    continue
                if value is None and strict_expr:
                    raise ExpressionError(f"failed to evaluate expression {inner[1:].strip()!r}")
                pieces.append(to_str(value))
            elif inner in self.values:
                value = self.values[inner]
                pieces.append(value if isinstance(value, str) else to_str(value))
            else:
                pieces.append(text[start:end])
        pieces.append(text[last:])
        return "".join(pieces)

    def substitute(self, obj: Any, strict_expr: bool = False) -> Any:
        """A deep copy of obj with every string rendered (see ``render`` for strict_expr)."""
        if isinstance(obj, str):
            return self.render(obj, strict_expr)
        if isinstance(obj, dict):
            return {k: self.substitute(v, strict_expr) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.substitute(v, strict_expr) for v in obj]
        return obj


def item_values(item: Any) -> dict[str, Any]:
    """Scope entries for a loop item: ``item`` and ``item.<field>`` (maps, nested one level)."""
    values: dict[str, Any] = {"item": item if isinstance(item, str) else to_str(item)}
    if isinstance(item, dict):
        for k, v in item.items():
            values[f"item.{k}"] = v if isinstance(v, str) else to_str(v)
            if isinstance(v, dict):
                for k2, v2 in v.items():
                    values[f"item.{k}.{k2}"] = v2 if isinstance(v2, str) else to_str(v2)
    return values


def json_or_str(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text
