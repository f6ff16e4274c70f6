"""The run form on its own: typed parameter fields, experiment rules, parameter errors."""

from __future__ import annotations

import pytest
from django import forms
from django.core.exceptions import ValidationError

from apps.runs.forms import RunForm, parameter_field
from tests.experiments.builders import make_experiment, make_version

pytestmark = pytest.mark.django_db


def test_parameter_widgets_follow_the_declared_type():
    assert isinstance(parameter_field({"name": "n", "type": "Integer"}).widget, forms.NumberInput)
    assert parameter_field({"name": "n", "type": "Integer"}).widget.attrs["step"] == "1"
    assert parameter_field({"name": "x", "type": "Float"}).widget.attrs["step"] == "any"
    flag = parameter_field({"name": "b", "type": "Bool", "default": True})
    assert isinstance(flag.widget, forms.Select)
    assert [value for value, _ in flag.widget.choices] == ["true", "false"]
    text = parameter_field({"name": "s", "type": "String", "default": "a", "description": "Why"})
    assert isinstance(text.widget, forms.TextInput)
    assert text.help_text == "Why · Default: a"


def _data(version, **extra):
    data = {
        "pipeline": version.pipeline_id,
        "version": str(version.pk),
        "name": "r1",
        "run_type": "one_off",
    }
    data.update(extra)
    return data


def test_form_has_a_field_per_parameter():
    version = make_version()
    form = RunForm(pipeline=version.pipeline, version=version)
    assert [f.name for f in form.parameter_fields()] == [
        "param_epochs",
        "param_lr",
        "param_shuffle",
        "param_label",
    ]


def test_experiment_or_new_name_is_required():
    version = make_version()
    form = RunForm(_data(version), pipeline=version.pipeline, version=version)
    assert not form.is_valid()
    assert form.errors["experiment"] == [
        "Choose the experiment this run belongs to, or name a new one."
    ]


def test_new_experiment_name_must_be_free():
    version = make_version()
    make_experiment("taken")
    form = RunForm(
        _data(version, new_experiment="Taken"), pipeline=version.pipeline, version=version
    )
    assert not form.is_valid()
    assert "An experiment named “taken” already exists." in form.errors["new_experiment"][0]
    assert "experiment" not in form.errors  # one message, on the field the user typed in


def test_valid_form_returns_parameter_values():
    version = make_version()
    experiment = make_experiment()
    form = RunForm(
        _data(version, experiment=experiment.pk, param_epochs="7", param_lr=""),
        pipeline=version.pipeline,
        version=version,
    )
    assert form.is_valid(), form.errors
    assert form.parameter_values() == {
        "epochs": "7",
        "lr": "",
        "shuffle": "",
        "label": "",
    }


def test_parameter_errors_land_on_their_fields():
    version = make_version()
    form = RunForm(_data(version), pipeline=version.pipeline, version=version)
    form.is_valid()
    form.add_parameter_errors(
        ValidationError({"epochs": ["epochs: 'x' is not a whole number"], "ghost": ["nope"]})
    )
    assert form.errors["param_epochs"] == ["epochs: 'x' is not a whole number"]
    assert "nope" in form.non_field_errors()
