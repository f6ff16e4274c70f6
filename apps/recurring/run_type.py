"""Run type "Recurring" of the run form (apps.runs.run_types): the schedule's fields are
ScheduleForm's, and the recurring run is created by create_recurring_run, as the recurring-run
form does, so both give the same result."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from apps.recurring.forms import ScheduleForm
from apps.recurring.services import RecurringError, Settings, create_recurring_run
from apps.recurring.views import form_preview
from apps.runs.run_types import Choices, RunType, RunTypeRefused, register

RECURRING = "recurring"


def create(choices: Choices, schedule: ScheduleForm) -> tuple[str, str]:
    version = choices.version
    # As the recurring-run form: an empty parameter is not stored, each run takes the default.
    parameters = {k: v for k, v in choices.parameters.items() if v not in ("", None)}
    settings_ = Settings(
        name=choices.name,
        description=choices.description,
        experiment=choices.experiment,
        pipeline=version.pipeline,
        pipeline_version=None if choices.always_latest else version,
        parameters=parameters,
        **schedule.settings_values(),
    )
    try:
        recurring = create_recurring_run(settings_, user=choices.user)
    except RecurringError as exc:
        raise RunTypeRefused(str(exc)) from exc
    url = reverse("recurring:detail", args=[recurring.pk])
    return url, f"Recurring run “{recurring.name}” created."


def context(schedule: ScheduleForm) -> dict[str, Any]:
    return {"preview": form_preview(schedule)}


def register_recurring() -> None:
    register(
        RunType(
            value=RECURRING,
            label="Recurring",
            hint="on a schedule: a trigger, start and end",
            submit_label="Create recurring run",
            form_class=ScheduleForm,
            template="recurring/_schedule_fields.html",
            create=create,
            context=context,
        )
    )
