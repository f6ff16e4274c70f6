"""A recurring run's settings are listed once (apps.recurring.services.Settings): the services, the
form and the admin all follow that list."""

from __future__ import annotations

import dataclasses
import time

import pytest
from django.urls import reverse

from apps.experiments.models import Experiment
from apps.recurring.forms import RecurringRunForm
from apps.recurring.models import RecurringRun
from apps.recurring.services import SETTINGS_FIELDS, Settings
from tests.recurring.fixtures import hello_version

pytestmark = pytest.mark.django_db


def test_every_setting_is_a_model_field_with_the_models_default():
    names = {f.name for f in RecurringRun._meta.fields}
    assert set(SETTINGS_FIELDS) <= names
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    for name in ("timezone", "max_concurrency", "catchup", "enabled"):
        assert defaults[name] == RecurringRun._meta.get_field(name).get_default()
    assert "revision" not in SETTINGS_FIELDS  # it says which edit, not what to run


@pytest.fixture
def recurring():
    version = hello_version(pipeline_name=f"hello {time.monotonic_ns()}")
    experiment = Experiment.objects.create(name=f"nightly {time.monotonic_ns()}")
    return RecurringRun.objects.create(
        name="every 90 minutes",
        description="twice",
        experiment=experiment,
        pipeline=version.pipeline,
        pipeline_version=version,
        parameters={"greeting": "hi", "count": "4"},
        trigger_type="periodic",
        interval_seconds=5400,
        timezone="Europe/Paris",
        max_concurrency=3,
        catchup=True,
        enabled=False,
        namespace="argo",
    )


def test_the_form_gives_back_every_setting_it_was_given(recurring, django_assert_num_queries):
    with django_assert_num_queries(0):
        initial = RecurringRunForm.initial_for(recurring)
    data = {k: "on" if v is True else v for k, v in initial.items() if v not in (None, False)}
    form = RecurringRunForm(
        data=data, pipeline=recurring.pipeline, version=recurring.pipeline_version
    )
    assert form.is_valid(), form.errors
    settings_ = form.to_settings()
    for name in SETTINGS_FIELDS:
        assert getattr(settings_, name) == getattr(recurring, name), name
    assert settings_.revision == recurring.revision


def test_the_admin_shows_each_field_once_settings_first(recurring, admin_client):
    response = admin_client.get(reverse("admin:recurring_recurringrun_change", args=[recurring.pk]))
    assert response.status_code == 200
    fieldsets = response.context["adminform"].fieldsets
    assert fieldsets[0][1]["fields"] == SETTINGS_FIELDS
    shown = [name for _, options in fieldsets for name in options["fields"]]
    assert sorted(shown) == sorted(f.name for f in RecurringRun._meta.fields)
