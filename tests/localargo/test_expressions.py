"""Unit tests of the expression evaluator (expressions.py) and its JSONPath (jsonpath.py)."""

from __future__ import annotations

import json
import re
import time

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
        check_expr("nosuch([1], 2)")


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # expr-lang's pipe: the left side is the first argument; looser than every operator
        ("[3, 1, 2] | sort() | join('-')", "1-2-3"),
        ("1 + 2 | string()", "3"),
        ("x ?? 'd' | upper()", "D"),
        ("concat([1], [2, 3]) | toJSON()", "[\n  1,\n  2,\n  3\n]"),
        (
            "{'b': 1, 'a': [true, nil]} | toJSON()",
            '{\n  "a": [\n    true,\n    null\n  ],\n  "b": 1\n}',
        ),
        ("toJson({'b': '<', 'a': 1})", '{"a":1,"b":"\\u003c"}'),  # Go's json.Marshal
        ('\'["a","b"]\' | fromJSON() | last()', "b"),
        ("get({'a': 1}, 'a')", 1),
        ("get({'a': 1}, 'b') ?? 'none'", "none"),
        ("get([1, 2], 5)", None),
        ("keys({'a': 1, 'b': 2})", ["a", "b"]),
        ("'abc' | toBase64() | fromBase64()", "abc"),
        ("trimPrefix('v1.2', 'v')", "1.2"),
        ("replace('a-b', '-', '+')", "a+b"),
        ("uniq([1, 1, 2]) | reverse()", [2, 1]),
        ("flatten([1, [2, [3]]])", [1, 2, 3]),
        ("mean([1, 2, 3, 6])", 3.0),
        # predicates: `#` is the element, `.f` its field, `#index` its index; braces optional
        ("filter([1, 2, 3, 4], # > 2)", [3, 4]),
        ("map([1, 2], {# * 10})", [10, 20]),
        ("[1, 2, 3] | filter(# % 2 == 1) | map(# + #index)", [1, 4]),
        ("filter([{'n': 1}, {'n': 5}], .n > 2)", [{"n": 5}]),
        ("all([1, 2], # > 0) && !any([1, 2], # > 5) && none([1], # > 1)", True),
        ("one([1, 2, 3], # == 2) ? count([1, 2, 3], # > 1) : -1", 2),
        ("find([1, 2, 3], # > 1)", 2),
        ("findIndex([1, 2, 3], # > 5)", -1),
        ("sortBy([{'n': 2}, {'n': 1}], .n) | map(.n)", [1, 2]),
        ("groupBy([1, 2, 3], # % 2)", {1: [1, 3], 0: [2]}),
        # sprig's arithmetic is variadic where sprig's is, and integer
        ("sprig.add(1, 2, 3)", 6),
        ("sprig.max(3, 9, 4)", 9),
        ("sprig.min(3, 9, 4)", 3),
        ("sprig.b64dec(sprig.b64enc('hi'))", "hi"),
        ("sprig.default('d', '')", "d"),
        ("sprig.default('d', 'v')", "v"),
        ("sprig.trimPrefix('v', 'v1')", "1"),
        ("sprig.cat('a', 'b')", "a b"),
    ],
)
def test_expr_lang_pipes_builtins_and_closures(text: str, expected: object) -> None:
    assert eval_expr(text, {}) == expected


def test_argos_verbose_snippet_example_maps_over_one_value() -> None:
    """examples/expression-reusing-verbose-snippets.yaml: `map` aliases a value as `#`."""
    weather = json.dumps({"weekWeather": "eyJ0ZW1wcyI6IFszNCwgMjcsIDE1LCA1NywgNDZdfQo="})
    text = """map([
        jsonpath(sprig.b64dec(jsonpath(workflow.parameters.weather, '$.weekWeather')), '$.temps')
      ], {
        toJson({
          avg: sprig.add(#[0], #[1], #[2], #[3], #[4]) / 5,
          min: sprig.min(#[0], #[1], #[2], #[3], #[4]),
          max: sprig.max(#[0], #[1], #[2], #[3], #[4])
        })
    })[0]"""
    env = {"workflow": {"parameters": {"weather": weather}}}
    assert eval_expr(text, env) == '{"avg":35.8,"max":57,"min":15}'


def test_govaluate_in_with_a_list() -> None:
    assert eval_when('"b" in ("a","b","")') is True
    assert eval_when('"" in ("a","b","")') is True
    assert eval_when('"c" in ("a","b")') is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1] | 3", "expected a function after '|'"),
        ("x |", "expected a function after '|'"),
        ("[1] | nosuch()", "unsupported function nosuch"),
        ("{a 1}", "expected ':'"),
        ("map([1], # > 1, 2, 3)", "map: "),  # wrong number of arguments
        ("concat(1)", "concat: "),
    ],
)
def test_expr_lang_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        check_expr(text)
        eval_expr(text, {})


def test_times_and_durations_as_cron_when_uses_them() -> None:
    """examples/cron-when.yaml: `(now() - cronworkflow.lastScheduledTime).Seconds() > 360`,
    with the engine's times (seconds since the epoch) on the right."""
    text = (
        "cronworkflow.lastScheduledTime == nil || "
        "(now() - cronworkflow.lastScheduledTime).Seconds() > 360"
    )
    check_expr(text)
    assert eval_expr(text, {"cronworkflow": {"lastScheduledTime": None}}) is True
    assert eval_expr(text, {"cronworkflow": {"lastScheduledTime": time.time() - 400}}) is True
    assert eval_expr(text, {"cronworkflow": {"lastScheduledTime": time.time() - 100}}) is False
    assert eval_expr("duration('1h30m').Minutes()", {}) == 90.0
    assert eval_expr("duration('300ms').Milliseconds()", {}) == 300
    assert eval_expr("now() - duration('1h') < now()", {}) is True
    with pytest.raises(ExpressionError, match="invalid duration"):
        eval_expr("duration('soon')", {})
    with pytest.raises(ExpressionError, match="has no method Seconds"):
        eval_expr("'x'.Seconds()", {})
