"""What each declared parameter type accepts: one rule for the importer, rendering and runs."""

import pytest
from django.core.exceptions import ValidationError

from apps.pipelines.parameters import argo_value, display_value, parse_bool, typed_value
from apps.pipelines.rendering import parameter_value
from apps.runs.parameters import resolve_parameters
from tests.pipelines.test_import_elyra import _doc, _import, _node, _refused


@pytest.mark.parametrize(
    ("raw", "argo", "typed"),
    [
        ("3", "3", 3),
        ("3.0", "3", 3),
        (" 3.0 ", "3", 3),
        ("1e3", "1000", 1000),
        ("-2", "-2", -2),
        ("+7", "7", 7),
        (3, "3", 3),
        (3.0, "3", 3),
        ("\u0661\u0662", "12", 12),  # Arabic-Indic digits
        ("\uff11\uff12", "12", 12),  # full-width digits
        ("123456789012345678901234567890", "123456789012345678901234567890", None),
    ],
)
def test_integer_accepts_any_spelling_of_a_whole_number(raw, argo, typed):
    assert argo_value("Integer", raw) == argo
    assert typed_value("Integer", raw) == (typed if typed is not None else int(argo))


@pytest.mark.parametrize(
    "raw",
    [
        "2.5",
        "abc",
        "",
        "1_000",
        "0x10",
        "nan",
        "inf",
        "3 4",
        True,
        "1e5000",
        "\u216b",
    ],  # Roman numeral twelve: a number, not digits
)
def test_integer_refuses_what_is_not_a_whole_number(raw):
    with pytest.raises(ValueError, match=r"not a whole number|too large"):
        argo_value("Integer", raw)


@pytest.mark.parametrize(
    ("raw", "argo", "typed"),
    [
        ("0.25", "0.25", 0.25),
        ("3.0", "3.0", 3.0),
        ("1e3", "1e3", 1000.0),
        (".5", ".5", 0.5),
        (0.5, "0.5", 0.5),
        (2, "2", 2.0),
        ("\u0660.\u0665", "0.5", 0.5),  # Arabic-Indic digits, ASCII point
    ],
)
def test_float_passes_the_number_as_written_in_ascii(raw, argo, typed):
    assert argo_value("Float", raw) == argo
    assert typed_value("Float", raw) == typed


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("abc", "not a number"),
        ("", "not a number"),
        ("1_000", "not a number"),
        ("nan", "not a finite number"),
        ("-inf", "not a finite number"),
        ("Infinity", "not a finite number"),
        ("1e400", "not a finite number"),
        (False, "not a number"),
    ],
)
def test_float_refuses_what_is_not_a_finite_number(raw, reason):
    with pytest.raises(ValueError, match=reason):
        argo_value("Float", raw)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("true", True),
        ("TRUE", True),
        (" yes ", True),
        ("on", True),
        ("1", True),
        (1, True),
        (True, True),
        ("false", False),
        ("No", False),
        ("off", False),
        ("0", False),
        (False, False),
    ],
)
def test_bool_words(raw, value):
    assert parse_bool(raw) is value
    assert argo_value("Bool", raw) == ("true" if value else "false")
    assert typed_value("Bool", raw) is value


@pytest.mark.parametrize("raw", ["maybe", "", None, "y", "ja", "\uff12"])
def test_bool_refuses_other_words(raw):
    with pytest.raises(ValueError, match="not true or false"):
        argo_value("Bool", raw)


def test_strings_pass_unchanged_and_none_is_empty():
    assert argo_value("String", "  spaced ünïcode ") == "  spaced ünïcode "
    assert argo_value("String", None) == ""
    assert argo_value("String", True) == "true"  # a YAML boolean is Argo's "true"
    assert argo_value("", 1.5) == "1.5"


def test_no_default_is_none_whatever_the_type():
    for kind in ("String", "Integer", "Float", "Bool"):
        assert typed_value(kind, None) is None
        assert typed_value(kind, "") is None


def test_display_shows_the_argo_string_or_what_was_carried():
    assert display_value("Bool", "Yes") == "true"
    assert display_value("Integer", "3.0") == "3"
    assert display_value("Integer", "x") == "x"
    assert display_value("Float", None) == ""


def _declared(*params: dict) -> list[dict]:
    """The parameters an Elyra upload declares, through the real importer."""
    doc = _doc([_node("a", "a.ipynb")], pipeline_parameters=list(params))
    return _import(doc).parameters


def test_the_importer_the_renderer_and_a_run_agree():
    """The same spellings are accepted as a declared default, rendered, and given to a run."""
    declared = _declared(
        {"name": "n", "default_value": {"type": "Integer", "value": "3.0"}},
        {"name": "flag", "default_value": {"type": "Bool", "value": "yes"}},
        {"name": "rate", "default_value": {"type": "Float", "value": "1e3"}},
    )
    assert [(p["name"], p["default"]) for p in declared] == [
        ("n", 3),
        ("flag", True),
        ("rate", 1000.0),
    ]
    assert [parameter_value(p["type"], p["default"]) for p in declared] == ["3", "true", "1000.0"]
    assert resolve_parameters(declared, {"n": "3.0", "flag": "yes", "rate": "1e3"}) == {
        "n": "3",
        "flag": "true",
        "rate": "1e3",
    }


def test_a_bad_default_and_a_bad_run_value_read_alike():
    message = _refused(
        _doc(
            [_node("a", "a.ipynb")],
            pipeline_parameters=[
                {"name": "n", "default_value": {"type": "Integer", "value": "2.5"}}
            ],
        )
    )
    assert "pipeline parameter 'n': default '2.5' is not a whole number" in message
    with pytest.raises(ValidationError) as info:
        resolve_parameters([{"name": "n", "type": "Integer", "default": 1}], {"n": "2.5"})
    assert info.value.message_dict["n"] == ["n: '2.5' is not a whole number (Integer expected)"]
