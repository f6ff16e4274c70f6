"""A small, safe evaluator for the expressions Argo workflows carry.

Three dialects share one parser:
- ``when`` (govaluate): bare words are strings, so ``heads == heads`` is true;
- ``depends``: task names with dashes and ``.Succeeded``-style suffixes, resolved by a callback;
- ``{{= ...}}`` (expr-lang subset): names resolve in a nested dict; a whitelist of functions.

Nothing here calls ``eval``: expressions are tokenized, parsed to tuples and interpreted.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from . import jsonpath


class ExpressionError(ValueError):
    """The expression cannot be parsed or evaluated."""


_OPS = sorted(
    [
        "==",
        "!=",
        "<=",
        ">=",
        "=~",
        "!~",
        "&&",
        "||",
        "??",
        "|",
        "{",
        "}",
        "<",
        ">",
        "!",
        "+",
        "-",
        "*",
        "/",
        "%",
        "(",
        ")",
        "[",
        "]",
        ",",
        ".",
        "?",
        ":",
    ],
    key=len,
    reverse=True,
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_IDENT = {
    "when": re.compile(r"[A-Za-z_][\w.]*(?:-[A-Za-z_][\w.]*)*"),
    "depends": re.compile(r"[A-Za-z0-9_][\w.\-]*"),
    "expr": re.compile(r"[A-Za-z_$][\w$]*|#\w*"),
}
_KEYWORDS = {"true": True, "false": False, "nil": None, "null": None}
_WORD_OPS = {
    "and": "&&",
    "or": "||",
    "not": "!",
    "in": "in",
    "matches": "=~",
    "contains": "contains",
    "startsWith": "startsWith",
    "endsWith": "endsWith",
}


def tokenize(text: str, dialect: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    i, n = 0, len(text)
    ident = _IDENT[dialect]
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "'\"`":
            j = i + 1
            buf = []
            while j < n and text[j] != c:
                if text[j] == "\\" and j + 1 < n and c != "`":
                    j += 1
                    buf.append({"n": "\n", "t": "\t"}.get(text[j], text[j]))
                else:
                    buf.append(text[j])
                j += 1
            if j >= n:
                raise ExpressionError(f"unterminated string in {text!r}")
            tokens.append(("str", "".join(buf)))
            i = j + 1
            continue
        m = _NUMBER.match(text, i)
        if m and dialect != "depends":
            raw = m.group()
            tokens.append(("num", float(raw) if any(x in raw for x in ".eE") else int(raw)))
            i = m.end()
            continue
        m = ident.match(text, i)
        if m:
            word = m.group()
            if word in _KEYWORDS and dialect != "depends":
                tokens.append(("const", _KEYWORDS[word]))
            elif word in _WORD_OPS and dialect == "expr":
                tokens.append(("op", _WORD_OPS[word]))
            elif word == "in" and dialect == "when":  # govaluate's `a in (b, c)`
                tokens.append(("op", "in"))
            else:
                tokens.append(("name", word))
            i = m.end()
            continue
        for op in _OPS:
            if text.startswith(op, i):
                tokens.append(("op", op))
                i += len(op)
                break
        else:
            raise ExpressionError(f"unexpected character {c!r} at {i} in {text!r}")
    tokens.append(("end", None))
    return tokens


_BINARY = {
    "|": 0,  # expr-lang's pipe, looser than every other operator: ``a | f(b)`` is ``f(a, b)``
    "??": 1,
    "||": 2,
    "&&": 3,
    "==": 4,
    "!=": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "=~": 4,
    "!~": 4,
    "in": 4,
    "contains": 4,
    "startsWith": 4,
    "endsWith": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]], text: str) -> None:
        self.tokens = tokens
        self.pos = 0
        self.text = text

    def peek(self) -> tuple[str, Any]:
        return self.tokens[self.pos]

    def take(self) -> tuple[str, Any]:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def expect(self, value: str) -> None:
        kind, val = self.take()
        if kind != "op" or val != value:
            raise ExpressionError(f"expected {value!r} in {self.text!r}")

    def parse(self) -> tuple:
        node = self.ternary()
        if self.peek()[0] != "end":
            raise ExpressionError(f"unexpected {self.peek()[1]!r} in {self.text!r}")
        return node

    def ternary(self) -> tuple:
        cond = self.binary(-1)
        if self.peek() == ("op", "?"):
            self.take()
            yes = self.ternary()
            self.expect(":")
            no = self.ternary()
            return ("if", cond, yes, no)
        return cond

    def binary(self, min_prec: int) -> tuple:
        left = self.unary()
        while True:
            kind, val = self.peek()
            prec = _BINARY.get(val) if kind == "op" else None
            if prec is None or prec <= min_prec:
                break
            self.take()
            if val == "|":
                left = self.pipe(left)
                continue
            right = self.binary(prec)
            left = ("bin", val, left, right)
        return left

    def pipe(self, left: tuple) -> tuple:
        """``left | name(args)``: the call with left as its first argument."""
        kind, name = self.take()
        if kind != "name":
            raise ExpressionError(f"expected a function after '|' in {self.text!r}")
        args = self.call_args(name, piped=True) if self.peek() == ("op", "(") else []
        return ("call", ("name", name), [left, *args])

    def call_args(self, name: str | None, piped: bool = False) -> list:
        """``( a, b, ... )``; a predicate builtin's second argument is a closure (its first
        written one after a pipe, which supplies the first)."""
        self.expect("(")
        args: list = []
        while self.peek() != ("op", ")"):
            if name in PREDICATES and len(args) + piped == 1:
                args.append(self.closure())
            else:
                args.append(self.ternary())
            if self.peek() == ("op", ","):
                self.take()
        self.expect(")")
        return args

    def closure(self) -> tuple:
        """expr-lang's ``{ # > 1 }`` (braces optional): ``#`` is the element, ``.x`` its field."""
        if self.peek() == ("op", "{"):
            self.take()
            body = self.ternary()
            self.expect("}")
        else:
            body = self.ternary()
        return ("closure", body)

    def unary(self) -> tuple:
        kind, val = self.peek()
        if kind == "op" and val in ("!", "-", "+"):
            self.take()
            return ("un", val, self.unary())
        return self.postfix(self.primary())

    def primary(self) -> tuple:
        kind, val = self.take()
        if kind in ("num", "str", "const"):
            return ("lit", val)
        if kind == "name":
            return ("name", val)
        if kind == "op" and val == "(":
            node = self.ternary()
            if self.peek() == ("op", ","):  # govaluate array literal: (a, b)
                items = [node]
                while self.peek() == ("op", ","):
                    self.take()
                    items.append(self.ternary())
                self.expect(")")
                return ("list", items)
            self.expect(")")
            return node
        if kind == "op" and val == "[":
            items = []
            while self.peek() != ("op", "]"):
                items.append(self.ternary())
                if self.peek() == ("op", ","):
                    self.take()
            self.expect("]")
            return ("list", items)
        if kind == "op" and val == "{":  # map literal: {a: 1, "b": 2}
            pairs = []
            while self.peek() != ("op", "}"):
                k_kind, key = self.take()
                if k_kind not in ("name", "str", "num"):
                    raise ExpressionError(f"bad map key {key!r} in {self.text!r}")
                self.expect(":")
                pairs.append((("lit", key), self.ternary()))
                if self.peek() == ("op", ","):
                    self.take()
            self.expect("}")
            return ("map", pairs)
        if kind == "op" and val == "." and self.peek()[0] == "name":  # closure's `.field`
            return ("get", ("name", "#"), ("lit", self.take()[1]))
        raise ExpressionError(f"unexpected {val!r} in {self.text!r}")

    def postfix(self, node: tuple) -> tuple:
        while True:
            kind, val = self.peek()
            if kind == "op" and val == ".":
                self.take()
                k2, name = self.take()
                if k2 != "name":
                    raise ExpressionError(f"expected a name after '.' in {self.text!r}")
                node = ("get", node, ("lit", name))
            elif kind == "op" and val == "[":
                self.take()
                idx = self.ternary()
                self.expect("]")
                node = ("get", node, idx)
            elif kind == "op" and val == "(":
                node = ("call", node, self.call_args(node[1] if node[0] == "name" else None))
            else:
                return node


def parse(text: str, dialect: str = "expr") -> tuple:
    return _Parser(tokenize(text, dialect), text).parse()


def _num(value: Any) -> float | int:
    if isinstance(value, bool):
        raise ExpressionError(f"{value!r} is not a number")
    if isinstance(value, int | float):
        return value
    try:
        f = float(str(value))
    except ValueError:
        raise ExpressionError(f"{value!r} is not a number") from None
    return int(f) if f.is_integer() and "." not in str(value) else f


def _jsonpath(doc: Any, path: Any) -> Any:
    try:
        return jsonpath.lookup(doc, str(path))
    except jsonpath.JsonPathError as exc:
        raise ExpressionError(str(exc)) from None


def _as_int(v: Any) -> int:
    try:
        return int(str(v).strip()) if not isinstance(v, float) else int(v)
    except ValueError:
        raise ExpressionError(f"asInt: {v!r} is not an integer") from None


def _go_json(value: Any, indent: int | None = None) -> str:
    """JSON as Go's encoding/json writes it: map keys sorted, <, > and & escaped."""
    text = json.dumps(
        value,
        indent=indent,
        separators=None if indent else (",", ":"),
        sort_keys=True,
        ensure_ascii=False,
    )
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _get(container: Any, key: Any) -> Any:
    """expr-lang's ``get``: a map's value or a list's element, nil when absent."""
    if isinstance(container, dict):
        return container.get(key)
    if isinstance(container, list | str) and isinstance(key, int) and -len(container) <= key:
        return container[key] if key < len(container) else None
    return None


def _flatten(items: list) -> list:
    out: list = []
    for item in items:
        out.extend(_flatten(item) if isinstance(item, list) else [item])
    return out


def _b64decode(text: Any) -> str:
    try:
        return base64.b64decode(str(text)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise ExpressionError(f"not base64: {exc}") from None


def _sort(items: list, order: str = "asc") -> list:
    return sorted(items, reverse=order == "desc")


def _first(items: Any) -> Any:
    return items[0] if items else None


def _last(items: Any) -> Any:
    return items[-1] if items else None


def _uniq(items: list) -> list:
    out: list = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _mean(items: list) -> float:
    return sum(_num(i) for i in items) / len(items) if items else 0.0


# expr-lang's builtins and the functions Argo adds (asInt, asFloat, toJson, jsonpath, sprig.*)
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "asInt": _as_int,
    "int": lambda v: int(_num(v)),
    "asFloat": lambda v: float(_num(v)),
    "float": lambda v: float(_num(v)),
    "string": lambda v: _to_str(v),
    "toJson": _go_json,  # Argo's: compact
    "fromJson": lambda v: json.loads(v),
    "toJSON": lambda v: _go_json(v, indent=2),  # expr-lang's: indented by two spaces
    "fromJSON": lambda v: json.loads(v),
    "toBase64": lambda s: base64.b64encode(str(s).encode()).decode(),
    "fromBase64": _b64decode,
    "jsonpath": _jsonpath,
    "len": len,
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "trim": lambda s, chars=None: str(s).strip(chars),
    "trimPrefix": lambda s, p: str(s).removeprefix(p),
    "trimSuffix": lambda s, p: str(s).removesuffix(p),
    "hasPrefix": lambda s, p: str(s).startswith(p),
    "hasSuffix": lambda s, p: str(s).endswith(p),
    "indexOf": lambda s, sub: str(s).find(sub),
    "lastIndexOf": lambda s, sub: str(s).rfind(sub),
    "replace": lambda s, old, new: str(s).replace(old, new),
    "repeat": lambda s, n: str(s) * int(n),
    "split": lambda s, sep, n=-1: str(s).split(sep, n - 1 if n > 0 else -1),
    "join": lambda items, sep="": sep.join(_to_str(i) for i in items),
    "concat": lambda *lists: [x for items in lists for x in items],
    "get": _get,
    "keys": lambda m: list(m),
    "values": lambda m: list(m.values()),
    "first": _first,
    "last": _last,
    "reverse": lambda items: list(reversed(items)),
    "sort": _sort,
    "uniq": _uniq,
    "flatten": _flatten,
    "sum": lambda items: sum(_num(i) for i in items),
    "mean": _mean,
    "now": lambda: datetime.now(UTC),
    "duration": lambda text: _duration(text),  # defined with the time methods below
    "abs": abs,
    "max": lambda *a: max(a[0] if len(a) == 1 else a),
    "min": lambda *a: min(a[0] if len(a) == 1 else a),
    "ceil": math.ceil,
    "floor": math.floor,
    "round": round,
}


def _pick(items: list, pred: Callable[..., Any], last: bool = False) -> tuple[int, Any]:
    order = list(enumerate(items))
    for i, x in reversed(order) if last else order:
        if _truthy(pred(x, i)):
            return i, x
    return -1, None


# expr-lang's builtins whose second argument is a closure over each element (`#`)
PREDICATES: dict[str, Callable[..., Any]] = {
    "map": lambda items, f: [f(x, i) for i, x in enumerate(items)],
    "filter": lambda items, f: [x for i, x in enumerate(items) if _truthy(f(x, i))],
    "all": lambda items, f: all(_truthy(f(x, i)) for i, x in enumerate(items)),
    "any": lambda items, f: any(_truthy(f(x, i)) for i, x in enumerate(items)),
    "none": lambda items, f: not any(_truthy(f(x, i)) for i, x in enumerate(items)),
    "one": lambda items, f: sum(1 for i, x in enumerate(items) if _truthy(f(x, i))) == 1,
    "count": lambda items, f: sum(1 for i, x in enumerate(items) if _truthy(f(x, i))),
    "find": lambda items, f: _pick(items, f)[1],
    "findIndex": lambda items, f: _pick(items, f)[0],
    "findLast": lambda items, f: _pick(items, f, last=True)[1],
    "findLastIndex": lambda items, f: _pick(items, f, last=True)[0],
    "sortBy": lambda items, f, order="asc": [
        x for _, x in sorted(((f(x, i), x) for i, x in enumerate(items)), reverse=order == "desc")
    ],
    "groupBy": lambda items, f: _group(items, f),
}


def _group(items: list, f: Callable[..., Any]) -> dict:
    groups: dict = {}
    for i, x in enumerate(items):
        groups.setdefault(f(x, i), []).append(x)
    return groups


def _sprig_default(default: Any, value: Any = None) -> Any:
    return value if not _empty(value) else default


def _empty(value: Any) -> bool:
    return value is None or value in ("", 0, False) or value == [] or value == {}


SPRIG: dict[str, Callable[..., Any]] = {
    "trim": lambda s: str(s).strip(),
    "trimAll": lambda chars, s: str(s).strip(chars),
    "trimPrefix": lambda p, s: str(s).removeprefix(p),
    "trimSuffix": lambda p, s: str(s).removesuffix(p),
    "upper": lambda s: str(s).upper(),
    "lower": lambda s: str(s).lower(),
    "title": lambda s: str(s).title(),
    "repeat": lambda n, s: str(s) * int(n),
    "substr": lambda start, end, s: str(s)[int(start) : int(end)],
    "trunc": lambda n, s: str(s)[: int(n)] if int(n) >= 0 else str(s)[int(n) :],
    "replace": lambda old, new, s: str(s).replace(old, new),
    "cat": lambda *a: " ".join(_to_str(x) for x in a if x is not None),
    "int": lambda v: int(_num(v)),
    "int64": lambda v: int(_num(v)),
    "atoi": lambda v: int(_num(v)),
    "float64": lambda v: float(_num(v)),
    # sprig's arithmetic works on int64: every argument is truncated to an integer
    "add": lambda *a: sum(int(_num(x)) for x in a),
    "add1": lambda a: int(_num(a)) + 1,
    "sub": lambda a, b: int(_num(a)) - int(_num(b)),
    "mul": lambda *a: math.prod(int(_num(x)) for x in a),
    "div": lambda a, b: int(int(_num(a)) / int(_num(b))),
    "mod": lambda a, b: int(math.fmod(int(_num(a)), int(_num(b)))),
    "max": lambda *a: max(int(_num(x)) for x in a),
    "min": lambda *a: min(int(_num(x)) for x in a),
    "toString": lambda v: _to_str(v),
    "toJson": _go_json,
    "quote": lambda v: json.dumps(_to_str(v)),
    "squote": lambda v: f"'{_to_str(v)}'",
    "contains": lambda sub, s: sub in s,
    "hasPrefix": lambda p, s: str(s).startswith(p),
    "hasSuffix": lambda p, s: str(s).endswith(p),
    "b64enc": lambda s: base64.b64encode(str(s).encode()).decode(),
    "b64dec": _b64decode,
    "default": _sprig_default,
    "empty": _empty,
    "list": lambda *a: list(a),
    "join": lambda sep, items: sep.join(_to_str(i) for i in items),
}


def _to_str(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dict | list):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


class _Missing:
    """A name that is not bound; becomes ``nil`` (expr) or an error when used as a value."""


def evaluate(node: tuple, resolve: Callable[[str], Any]) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "name":
        return resolve(node[1])
    if kind == "list":
        return [evaluate(n, resolve) for n in node[1]]
    if kind == "map":
        return {evaluate(k, resolve): evaluate(v, resolve) for k, v in node[1]}
    if kind == "closure":
        return _Closure(node[1], resolve)
    if kind == "if":
        return evaluate(node[2] if _truthy(evaluate(node[1], resolve)) else node[3], resolve)
    if kind == "un":
        val = evaluate(node[2], resolve)
        if node[1] == "!":
            return not _truthy(val)
        return -_num(val) if node[1] == "-" else _num(val)
    if kind == "get":
        base = evaluate(node[1], resolve)
        key = evaluate(node[2], resolve)
        if isinstance(base, dict):
            return base.get(key)
        if isinstance(base, list | str) and isinstance(key, int | float):
            return base[int(key)]
        if base is None:
            return None
        raise ExpressionError(f"cannot index {type(base).__name__} with {key!r}")
    if kind == "call":
        method = _method_name(node[1])
        if method:  # a Go method of a time or a duration: `(now() - t).Seconds()`
            base = evaluate(node[1][1], resolve)
            return _call_method(base, method, [evaluate(a, resolve) for a in node[2]])
        func = _function(node[1])
        try:
            return func(*[evaluate(a, resolve) for a in node[2]])
        except TypeError as exc:  # wrong number or kind of arguments
            raise ExpressionError(f"{_call_name(node[1])}: {exc}") from None
    if kind == "bin":
        return _binary(node[1], node[2], node[3], resolve)
    raise ExpressionError(f"bad node {kind}")


class _Closure:
    """A predicate's body, called with each element (``#``) and its index (``#index``)."""

    def __init__(self, body: tuple, resolve: Callable[[str], Any]) -> None:
        self.body = body
        self.resolve = resolve

    def __call__(self, element: Any, index: int = 0) -> Any:
        bound = {"#": element, "#index": index}
        return evaluate(
            self.body, lambda name: bound[name] if name in bound else self.resolve(name)
        )


# Go methods of time.Time and time.Duration that expressions call
_DURATION_METHODS: dict[str, Callable[[timedelta], Any]] = {
    "Seconds": lambda d: d.total_seconds(),
    "Minutes": lambda d: d.total_seconds() / 60,
    "Hours": lambda d: d.total_seconds() / 3600,
    "Milliseconds": lambda d: int(d.total_seconds() * 1000),
}
_TIME_METHODS: dict[str, Callable[[datetime], Any]] = {
    "Unix": lambda t: int(t.timestamp()),
    "UTC": lambda t: t.astimezone(UTC),
    "Year": lambda t: t.year,
    "Month": lambda t: t.month,
    "Day": lambda t: t.day,
    "Hour": lambda t: t.hour,
    "Weekday": lambda t: (t.weekday() + 1) % 7,  # Go: Sunday is 0
}


def _method_name(ref: tuple) -> str | None:
    if ref[0] == "get" and ref[1] != ("name", "sprig") and ref[2][0] == "lit":
        name = ref[2][1]
        if name in _DURATION_METHODS or name in _TIME_METHODS:
            return name
    return None


def _call_method(base: Any, name: str, args: list[Any]) -> Any:
    if args:
        raise ExpressionError(f"{name}() takes no arguments")
    if isinstance(base, timedelta) and name in _DURATION_METHODS:
        return _DURATION_METHODS[name](base)
    if isinstance(base, datetime) and name in _TIME_METHODS:
        return _TIME_METHODS[name](base)
    raise ExpressionError(f"{type(base).__name__} has no method {name}")


_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def _duration(text: Any) -> timedelta:
    """Go's time.ParseDuration: ``1h30m``, ``300ms``, ``-2s``."""
    raw = str(text).strip()
    sign, body = (-1, raw[1:]) if raw.startswith("-") else (1, raw.lstrip("+"))
    parts = _GO_DURATION.findall(body)
    if body == "0":
        return timedelta(0)
    if not parts or "".join(n + u for n, u in parts) != body:
        raise ExpressionError(f"duration: invalid duration {raw!r}")
    return timedelta(seconds=sign * sum(float(n) * _GO_UNITS[u] for n, u in parts))


def _as_time(value: Any) -> datetime:
    """A time operand: a datetime, or seconds since the epoch (how the engine keeps times)."""
    if isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(_num(value), UTC)


def _call_name(ref: tuple) -> str:
    if ref[0] == "get" and ref[1] == ("name", "sprig") and ref[2][0] == "lit":
        return f"sprig.{ref[2][1]}"
    return ref[1] if ref[0] == "name" else "<expression>"


def _function(ref: tuple) -> Callable[..., Any]:
    if ref[0] == "name" and ref[1] in FUNCTIONS:
        return FUNCTIONS[ref[1]]
    if ref[0] == "name" and ref[1] in PREDICATES:
        return PREDICATES[ref[1]]
    if ref[0] == "get" and ref[1] == ("name", "sprig") and ref[2][0] == "lit":
        if ref[2][1] in SPRIG:
            return SPRIG[ref[2][1]]
        raise ExpressionError(f"unsupported function sprig.{ref[2][1]}")
    name = ref[1] if ref[0] == "name" else "<expression>"
    raise ExpressionError(f"unsupported function {name}")


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        if value in ("true", "false"):
            return value == "true"
        raise ExpressionError(f"{value!r} is not a boolean")
    return bool(value)


def _binary(op: str, left: tuple, right: tuple, resolve: Callable[[str], Any]) -> Any:
    if op == "&&":
        return _truthy(evaluate(left, resolve)) and _truthy(evaluate(right, resolve))
    if op == "||":
        return _truthy(evaluate(left, resolve)) or _truthy(evaluate(right, resolve))
    a = evaluate(left, resolve)
    if op == "??":
        return a if a is not None else evaluate(right, resolve)
    b = evaluate(right, resolve)
    if op in ("==", "!="):
        if isinstance(a, int | float) and isinstance(b, int | float):
            same = a == b
        else:
            same = _to_str(a) == _to_str(b) if type(a) is not type(b) else a == b
        return same if op == "==" else not same
    if op in ("=~", "!~"):
        found = re.search(_to_str(b), _to_str(a)) is not None
        return found if op == "=~" else not found
    if op == "contains":
        return _to_str(b) in _to_str(a)
    if op == "startsWith":
        return _to_str(a).startswith(_to_str(b))
    if op == "endsWith":
        return _to_str(a).endswith(_to_str(b))
    if op == "in":
        return a in b if isinstance(b, list | dict | str) else False
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, datetime | timedelta) or isinstance(b, datetime | timedelta):
        return _time_binary(op, a, b)
    if op in ("<", "<=", ">", ">="):
        try:
            x, y = _num(a), _num(b)
        except ExpressionError:
            x, y = _to_str(a), _to_str(b)
        return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
    x, y = _num(a), _num(b)
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op == "/":
        if y == 0:
            raise ExpressionError("division by zero")
        return x / y
    if op == "%":
        return x % y
    raise ExpressionError(f"unknown operator {op}")


def _time_binary(op: str, a: Any, b: Any) -> Any:
    """Times and durations, as Go's time package: t - t is a duration, t ± d a time."""
    if isinstance(a, timedelta) and isinstance(b, timedelta):
        ops = {"+": a + b, "-": a - b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}
    elif isinstance(a, datetime) and isinstance(b, timedelta):
        ops = {"+": a + b, "-": a - b}
    elif isinstance(a, datetime):
        other = _as_time(b)
        ops = {"-": a - other, "<": a < other, "<=": a <= other, ">": a > other, ">=": a >= other}
    elif isinstance(b, datetime):
        other = _as_time(a)
        ops = {"-": other - b, "<": other < b, "<=": other <= b, ">": other > b, ">=": other >= b}
    else:
        ops = {}
    if op not in ops:
        raise ExpressionError(f"cannot apply {op} to {type(a).__name__} and {type(b).__name__}")
    return ops[op]


def eval_when(text: str) -> bool:
    """Argo's ``when``: govaluate with bare words read as strings."""
    result = evaluate(parse(text, "when"), lambda name: name)
    if not isinstance(result, bool):
        raise ExpressionError(f"when expression {text!r} is not a boolean: {result!r}")
    return result


def eval_expr(text: str, env: dict[str, Any]) -> Any:
    """An ``{{= ...}}`` expression against a nested environment; unknown names are nil."""

    def resolve(name: str) -> Any:
        return env.get(name)

    return evaluate(parse(text, "expr"), resolve)


def check_expr(text: str) -> None:
    """Parse an expression and check every function it calls is one we have (create-time)."""
    _check_calls(parse(text, "expr"))


def _check_calls(node: Any) -> None:
    if not isinstance(node, tuple):
        return
    if node[0] == "call":
        if _method_name(node[1]):
            _check_calls(node[1][1])
        else:
            _function(node[1])
        for a in node[2]:
            _check_calls(a)
        return
    for part in node[1:]:
        if isinstance(part, tuple):
            _check_calls(part)
        elif isinstance(part, list):
            for p in part:
                _check_calls(p)


def eval_depends(text: str, resolve: Callable[[str], bool]) -> bool:
    """``depends``: ``resolve('A')`` / ``resolve('A.Succeeded')`` give each operand's truth."""
    return _truthy(evaluate(parse(text, "depends"), resolve))


def depends_names(text: str) -> list[str]:
    """The task names a ``depends`` expression mentions (without the .Result suffix)."""
    names = []
    for kind, val in tokenize(text, "depends"):
        if kind == "name":
            task = val.split(".")[0]
            if task not in names:
                names.append(task)
    return names


def task_dependencies(task: dict[str, Any]) -> list[str]:
    """The task names a DAG task waits for, as Argo reads them: the names its ``depends``
    expression mentions, else its ``dependencies`` (Argo refuses a DAG that mixes the two).
    The one home of this rule: the engine, the app's upload checks and its graphs use it.
    Raises ExpressionError for a malformed expression."""
    depends = task.get("depends")
    if depends:
        return depends_names(str(depends))
    listed = task.get("dependencies") or []
    return list(dict.fromkeys(d for d in listed if isinstance(d, str)))


def to_str(value: Any) -> str:
    return _to_str(value)
