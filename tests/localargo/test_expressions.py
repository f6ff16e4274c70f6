"""Unit tests of the expression evaluator (expressions.py) and its JSONPath (jsonpath.py)."""

from __future__ import annotations

import json

import pytest

from ydpipelines.localargo.expressions import (
    ExpressionError,
    check_expr,
    depends_names,
    eval_depends,
    eval_expr,
    eval_when,
)
from ydpipelines.localargo.jsonpath import JsonPathError, lookup

DOC = {
    "store": {
        "book": [
            {"title": "A", "price": 8, "isbn": "1"},
            {"title": "B", "price": 12},
            {"title": "C", "price": 22, "isbn": "3"},
        ],
        "bike": {"price": 19},
    },
    "expensive": 10,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.expensive", 10),
        ("$.store.book[0].title", "A"),
        ("$.store.book[-1].title", "C"),
        ("$['store']['bike']['price']", 19),
        ("$.store.book[*].title", ["A", "B", "C"]),
        ("$.store.book[0,2].title", ["A", "C"]),
        ("$.store.book[0:2].title", ["A", "B"]),
        ("$.store.book[?(@.isbn)].title", ["A", "C"]),
        ("$.store.book[?(@.price > 10)].title", ["B", "C"]),
        ("$.store.book[?(@.title == 'B')].price", [12]),
        ("$..price", [8, 12, 22, 19]),
        ("$.store.*.price", [19]),
    ],
)
def test_jsonpath(path: str, expected: object) -> None:
    assert lookup(json.dumps(DOC), path) == expected


@pytest.mark.parametrize("path", ["$.nope", "$.store.book[7]", "store", "$.store.book[?(@.x ~ 1)]"])
def test_jsonpath_errors(path: str) -> None:
    with pytest.raises(JsonPathError):
        lookup(DOC, path)


def test_jsonpath_in_an_expression_and_its_error() -> None:
    env = {"j": json.dumps(DOC)}
    assert eval_expr("jsonpath(j, '$.store.book[*].price')", env) == [8, 12, 22]
    assert eval_expr("len(jsonpath(j, '$..title')) == 3", env) is True
    with pytest.raises(ExpressionError, match="key error: nope"):
        eval_expr("jsonpath(j, '$.nope')", env)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 % 4", 2),
        ("'a' + 'b'", "ab"),
        ("x.y == 'z'", True),
        ("x.missing ?? 'dflt'", "dflt"),
        ("n > 2 ? 'big' : 'small'", "big"),
        ("asInt('42') + 1", 43),
        ("asFloat('1.5') * 2", 3.0),
        ("'b' in ['a', 'b']", True),
        ("'hello' contains 'ell'", True),
        ("'hello' startsWith 'he' && 'hello' endsWith 'lo'", True),
        ("'abc' matches '^a'", True),
        ("not false", True),
        ("sprig.upper('x')", "X"),
        ("toJson(fromJson('[1,2]'))", "[1,2]"),
        ("string(3)", "3"),
        ("items[1]", 2),
    ],
)
def test_eval_expr(text: str, expected: object) -> None:
    env = {"x": {"y": "z"}, "n": 3, "items": [1, 2, 3]}
    assert eval_expr(text, env) == expected


@pytest.mark.parametrize(
    "text", ["1 +", "unknownFn(1)", "1 / 0", "asInt('x')", "'unterminated", "sprig.nope(1)"]
)
def test_eval_expr_errors(text: str) -> None:
    with pytest.raises(ExpressionError):
        eval_expr(text, {})


def test_check_expr_refuses_unknown_functions_at_create() -> None:
    check_expr("asInt('1') + len([1])")
    with pytest.raises(ExpressionError, match="unsupported function"):
        check_expr("map([1], 2)")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("heads == heads", True),
        ("heads == tails", False),
        ("5 > 3", True),
        ("'a' != 'a' || true", True),
        ("my-value == my-value", True),
    ],
)
def test_when_reads_bare_words_as_strings(text: str, expected: bool) -> None:
    assert eval_when(text) is expected


def test_when_that_is_not_a_boolean_is_an_error() -> None:
    with pytest.raises(ExpressionError):
        eval_when("1 + 1")


def test_depends_expressions() -> None:
    results = {"A.Succeeded": True, "B-2.Failed": False, "C": True}
    assert eval_depends("A.Succeeded && (B-2.Failed || C)", results.__getitem__) is True
    assert eval_depends("!A.Succeeded", results.__getitem__) is False
    assert depends_names("A.Succeeded && (B-2.Failed || C)") == ["A", "B-2", "C"]
