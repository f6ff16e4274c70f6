"""A small, safe evaluator for the expressions Argo workflows carry.

Three dialects share one parser:
- ``when`` (govaluate): bare words are strings, so ``heads == heads`` is true;
- ``depends``: task names with dashes and ``.Succeeded``-style suffixes, resolved by a callback;
- ``{{= ...}}`` (expr-lang subset): names resolve in a nested dict; a whitelist of functions.

Nothing here calls ``eval``: expressions are tokenized, parsed to tuples and interpreted.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
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
    "expr": re.compile(r"[A-Za-z_$][\w$]*"),
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
        cond = self.binary(0)
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
            right = self.binary(prec)
            left = ("bin", val, left, right)
        return left

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
                self.take()
                args = []
                while self.peek() != ("op", ")"):
                    args.append(self.ternary())
                    if self.peek() == ("op", ","):
                        self.take()
                self.expect(")")
                node = ("call", node, args)
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


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "asInt": _as_int,
    "int": lambda v: int(_num(v)),
    "asFloat": lambda v: float(_num(v)),
    "float": lambda v: float(_num(v)),
    "string": lambda v: _to_str(v),
    "toJson": lambda v: json.dumps(v, separators=(",", ":")),
    "fromJson": lambda v: json.loads(v),
    "jsonpath": _jsonpath,
    "len": len,
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "trim": lambda s: str(s).strip(),
    "split": lambda s, sep: str(s).split(sep),
    "join": lambda items, sep="": sep.join(_to_str(i) for i in items),
    "filter": None,  # placeholder: closures are not supported; refused below
    "abs": abs,
    "max": max,
    "min": min,
    "ceil": math.ceil,
    "floor": math.floor,
    "round": round,
}
del FUNCTIONS["filter"]
SPRIG: dict[str, Callable[..., Any]] = {
    "trim": lambda s: str(s).strip(),
    "upper": lambda s: str(s).upper(),
    "lower": lambda s: str(s).lower(),
    "replace": lambda old, new, s: str(s).replace(old, new),
    "int": lambda v: int(_num(v)),
    "atoi": lambda v: int(_num(v)),
    "float64": lambda v: float(_num(v)),
    "add": lambda a, b: _num(a) + _num(b),
    "sub": lambda a, b: _num(a) - _num(b),
    "mul": lambda a, b: _num(a) * _num(b),
    "div": lambda a, b: _num(a) // _num(b),
    "toString": lambda v: _to_str(v),
    "quote": lambda v: json.dumps(_to_str(v)),
    "contains": lambda sub, s: sub in s,
    "hasPrefix": lambda p, s: str(s).startswith(p),
    "hasSuffix": lambda p, s: str(s).endswith(p),
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
        func = _function(node[1])
        return func(*[evaluate(a, resolve) for a in node[2]])
    if kind == "bin":
        return _binary(node[1], node[2], node[3], resolve)
    raise ExpressionError(f"bad node {kind}")


def _function(ref: tuple) -> Callable[..., Any]:
    if ref[0] == "name" and ref[1] in FUNCTIONS:
        return FUNCTIONS[ref[1]]
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


def to_str(value: Any) -> str:
    return _to_str(value)
