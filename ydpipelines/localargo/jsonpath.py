"""JSONPath for ``jsonpath(json, path)`` in ``{{= ...}}`` expressions.

Argo's expression environment looks the path up with oliveagle/jsonpath: ``$`` the root,
``.key`` / ``['key']`` children, ``[n]`` (negative from the end), ``[a,b]`` unions,
``[start:end]`` slices, ``*`` / ``[*]`` wildcards, ``..key`` recursive descent and
``[?(@.key op value)]`` filters. A path that can select several nodes (wildcard, union, slice,
filter, recursion) gives a list; a definite path gives the one value or fails when it is
missing, as Argo's lookup does.
"""

from __future__ import annotations

import json
import re
from typing import Any

_FILTER = re.compile(r"^\?\(\s*(@[\w.\-]*)\s*(?:(==|!=|<=|>=|<|>|=~)\s*(.+?))?\s*\)$")


class JsonPathError(ValueError):
    """The path is malformed or selects nothing that exists."""


def lookup(doc: Any, path: str) -> Any:
    """The value(s) ``path`` selects in ``doc`` (a JSON text or already-parsed data)."""
    if isinstance(doc, str | bytes):
        try:
            doc = json.loads(doc)
        except ValueError as exc:
            raise JsonPathError(f"invalid JSON document: {exc}") from None
    steps = parse(path)
    nodes = [doc]
    definite = True
    for kind, arg in steps:
        if kind != "key" and kind != "index":
            definite = False
        nodes = _apply(nodes, kind, arg, definite, doc)
    if definite:
        return nodes[0]
    return nodes


def parse(path: str) -> list[tuple[str, Any]]:
    """``$.a[*].b`` -> [('key', 'a'), ('all', None), ('key', 'b')]."""
    path = path.strip()
    if not path.startswith("$"):
        raise JsonPathError(f"path {path!r} must start with $")
    steps: list[tuple[str, Any]] = []
    i, n = 1, len(path)
    while i < n:
        if path.startswith("..", i):
            i += 2
            if i < n and path[i] == "[":
                steps.append(("descend", None))
                continue
            name, i = _name(path, i)
            # under recursion a key only keeps the nodes that have it
            steps += [("descend", None), ("all", None) if name == "*" else ("field", name)]
        elif path[i] == ".":
            name, i = _name(path, i + 1)
            steps.append(("all", None) if name == "*" else ("key", name))
        elif path[i] == "[":
            end = _closing(path, i)
            steps.append(_bracket(path[i + 1 : end].strip(), path))
            i = end + 1
        else:
            raise JsonPathError(f"unexpected {path[i]!r} at {i} in {path!r}")
    return steps


def _name(path: str, i: int) -> tuple[str, int]:
    m = re.compile(r"\*|[^.\[\]\s]+").match(path, i)
    if not m:
        raise JsonPathError(f"a name is missing at {i} in {path!r}")
    return m.group(), m.end()


def _closing(path: str, start: int) -> int:
    depth, quote = 0, ""
    for j in range(start, len(path)):
        c = path[j]
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return j
    raise JsonPathError(f"unclosed [ in {path!r}")


def _bracket(inner: str, path: str) -> tuple[str, Any]:
    if inner == "*":
        return ("all", None)
    if inner.startswith("?"):
        m = _FILTER.match(inner)
        if not m:
            raise JsonPathError(f"unsupported filter [{inner}] in {path!r}")
        field, op, literal = m.groups()
        return ("filter", (_field_path(field, path), op, _literal(literal) if op else None))
    if inner[:1] in "'\"":
        names = [p.strip()[1:-1] for p in _split(inner)]
        return ("key", names[0]) if len(names) == 1 else ("keys", names)
    if ":" in inner:
        parts = [p.strip() for p in inner.split(":")]
        if len(parts) > 3:
            raise JsonPathError(f"bad slice [{inner}] in {path!r}")
        try:
            nums = [int(p) if p else None for p in parts] + [None] * (3 - len(parts))
        except ValueError:
            raise JsonPathError(f"bad slice [{inner}] in {path!r}") from None
        return ("slice", slice(*nums))
    try:
        indexes = [int(p) for p in inner.split(",")]
    except ValueError:
        raise JsonPathError(f"bad index [{inner}] in {path!r}") from None
    return ("index", indexes[0]) if len(indexes) == 1 else ("indexes", indexes)


def _split(inner: str) -> list[str]:
    return re.findall(r"'[^']*'|\"[^\"]*\"", inner)


def _field_path(field: str, path: str) -> list[str]:
    if field == "@":
        return []
    if not field.startswith("@."):
        raise JsonPathError(f"filter operand {field!r} must start with @. in {path!r}")
    return field[2:].split(".")


def _literal(text: str) -> Any:
    text = text.strip()
    if text[:1] in "'\"" and text[-1:] == text[0]:
        return text[1:-1]
    if text.startswith("/") and text.endswith("/"):
        return re.compile(text[1:-1])
    try:
        return json.loads(text)
    except ValueError:
        raise JsonPathError(f"filter value {text!r} is not a literal") from None


def _apply(nodes: list[Any], kind: str, arg: Any, definite: bool, root: Any) -> list[Any]:
    out: list[Any] = []
    for node in nodes:
        if kind in ("key", "field"):
            if isinstance(node, dict) and arg in node:
                out.append(node[arg])
            elif definite:
                raise JsonPathError(f"key error: {arg} not found in object")
        elif kind == "keys":
            out.extend(node[k] for k in arg if isinstance(node, dict) and k in node)
        elif kind == "index":
            if not isinstance(node, list):
                if definite:
                    raise JsonPathError(f"object is not Slice: index {arg}")
                continue
            if -len(node) <= arg < len(node):
                out.append(node[arg])
            elif definite:
                raise JsonPathError(f"index out of range: len: {len(node)}, idx: {arg}")
        elif kind == "indexes":
            if isinstance(node, list):
                out.extend(node[i] for i in arg if -len(node) <= i < len(node))
        elif kind == "slice":
            if isinstance(node, list):
                out.extend(node[arg])
        elif kind == "all":
            if isinstance(node, dict):
                out.extend(node.values())
            elif isinstance(node, list):
                out.extend(node)
        elif kind == "descend":
            out.extend(_descendants(node))
        elif kind == "filter":
            items = (
                list(node.values())
                if isinstance(node, dict)
                else node
                if isinstance(node, list)
                else []
            )
            out.extend(item for item in items if _matches(item, *arg))
    return out


def _descendants(node: Any) -> list[Any]:
    """The node and every node below it, parents first."""
    found = [node]
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        found.extend(_descendants(child))
    return found


def _matches(item: Any, field: list[str], op: str | None, value: Any) -> bool:
    current: Any = item
    for part in field:
        if not isinstance(current, dict) or part not in current:
            return False
        current = current[part]
    if op is None:
        return True
    if op == "=~":
        return isinstance(current, str) and bool(value.search(current))
    if op in ("==", "!="):
        return (current == value) == (op == "==")
    try:
        return {"<": current < value, "<=": current <= value, ">": current > value}.get(
            op, current >= value
        )
    except TypeError:
        return False
