import pytest
from django.core.exceptions import ValidationError

from apps.runs.parameters import resolve_parameters

DECLARED = [
    {"name": "C", "type": "Float", "default": "1.0", "description": "", "required": False},
    {"name": "epochs", "type": "Integer", "default": 3, "description": "", "required": False},
    {"name": "shuffle", "type": "Bool", "default": "true", "description": "", "required": False},
    {"name": "label", "type": "String", "default": None, "description": "", "required": True},
]


def test_defaults_fill_what_is_not_given_and_values_become_argo_strings():
    values = resolve_parameters(DECLARED, {"label": "x", "C": "0.25", "shuffle": "No"})
    assert values == {"C": "0.25", "epochs": "3", "shuffle": "false", "label": "x"}


@pytest.mark.parametrize(
    ("given", "field", "fragment"),
    [
        ({"label": "x", "epochs": "2.5"}, "epochs", "not a whole number"),
        ({"label": "x", "C": "abc"}, "C", "not a number"),
        ({"label": "x", "C": "nan"}, "C", "not a finite number"),
        ({"label": "x", "shuffle": "maybe"}, "shuffle", "not true or false"),
        ({}, "label", "a value is required"),
        ({"label": "x", "lr": "1"}, "lr", "no such parameter"),
    ],
)
def test_bad_values_are_refused_naming_the_parameter(given, field, fragment):
    with pytest.raises(ValidationError) as info:
        resolve_parameters(DECLARED, given)
    messages = info.value.message_dict[field]
    assert any(fragment in message for message in messages), messages
