"""The recurring-run form: what to run (pipeline, a version or "always the latest", parameters,
experiment) and when (a frequency or a cron expression, timezone, start/end, concurrency).

Start and end are typed as wall-clock times in the schedule's timezone (what a user means by
"from 1 June 09:00" in Paris); they are stored as aware datetimes. The schedule rules live in
apps.recurring.schedules; the parameter fields and checks are the one-off run form's."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.experiments.models import Experiment
from apps.pipelines.models import Pipeline, PipelineVersion
from apps.projects.models import default_project
from apps.recurring.constants import TriggerType
from apps.recurring.models import RecurringRun
from apps.recurring.schedules import UNITS, ScheduleError, Trigger, split_interval, timezone_names
from apps.recurring.services import SETTINGS_FIELDS, Settings
from apps.runs.forms import ParameterForm, VersionChoiceField, param_field_name

UNIT_CHOICES = [(unit, unit) for unit in UNITS]
# The form's names for the settings it names otherwise (apps.recurring.services.SETTINGS_FIELDS);
# the interval is typed as `every` + `every_unit`, each parameter as its own field.
FORM_NAMES = {"pipeline_version": "version"}
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class LocalDateTimeField(forms.DateTimeField):
    """A `datetime-local` input; the value stays naive until the form knows the timezone."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_FORMAT)

    def to_python(self, value: Any) -> datetime | None:
        result = super().to_python(value)
        if result is not None and timezone.is_aware(result):
            result = timezone.make_naive(result)
        return result.replace(second=0, microsecond=0) if result else None


class ScheduleForm(forms.Form):
    """When a recurring run starts runs: the trigger, its window and the concurrency. The
    recurring-run form and the run form (Run type "Recurring") both take these fields from here,
    under the same names; `settings_values` gives them as apps.recurring.services.Settings does."""

    trigger_type = forms.ChoiceField(
        choices=[(TriggerType.PERIODIC, "Every…"), (TriggerType.CRON, "Cron expression")],
        initial=TriggerType.PERIODIC,
        widget=forms.RadioSelect,
        label="Trigger",
    )
    every = forms.DecimalField(
        required=False,
        min_value=Decimal("0"),
        max_digits=8,
        decimal_places=3,
        initial=1,
        widget=forms.NumberInput(attrs={"step": "1", "min": "1"}),
        label="Every",
    )
    every_unit = forms.ChoiceField(choices=UNIT_CHOICES, initial="hours", label="Unit")
    cron = forms.CharField(
        required=False,
        max_length=120,
        label="Cron expression",
        help_text="Five fields: minute hour day-of-month month day-of-week, e.g. 30 9 * * 1-5",
        widget=forms.TextInput(
            attrs={
                "placeholder": "30 9 * * 1-5",
                "spellcheck": "false",
                "autocomplete": "off",
                "class": "mono",
            }
        ),
    )
    timezone = forms.ChoiceField(choices=[], initial="UTC")
    start_at = LocalDateTimeField(required=False, label="Start", help_text="In the timezone above.")
    end_at = LocalDateTimeField(required=False, label="End", help_text="No run at or after it.")
    max_concurrency = forms.IntegerField(
        label="Max concurrent runs",
        initial=1,
        min_value=1,
        max_value=10,
        error_messages={
            "min_value": "Max concurrent runs must be between 1 and 10.",
            "max_value": "Max concurrent runs must be between 1 and 10.",
        },
        help_text="1 waits for a run to end before the next may start (a due run is skipped).",
    )
    catchup = forms.BooleanField(
        required=False,
        label="Catch up",
        help_text="After an outage, start the most recent missed run (within a day).",
    )
    enabled = forms.BooleanField(required=False, initial=True, label="Enabled")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [(n, n) for n in timezone_names()]

    def interval_seconds(self) -> int | None:
        count = self.cleaned_data.get("every")
        unit = self.cleaned_data.get("every_unit") or "hours"
        if count is None:
            return None
        return int(count * UNITS[unit])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        zone_name = data.get("timezone") or "UTC"
        zone = ZoneInfo(zone_name)
        for field in ("start_at", "end_at"):
            if data.get(field) is not None:
                data[field] = data[field].replace(tzinfo=zone)
        kind = data.get("trigger_type")
        if (
            kind == TriggerType.PERIODIC
            and data.get("every") is None
            and "every" not in self.errors
        ):
            self.add_error("every", "Say how often: a number of minutes, hours, days or weeks.")
            return data
        if kind == TriggerType.PERIODIC and data.get("every") is not None:
            count = data["every"]
            if count <= 0:
                self.add_error("every", "Enter a number above 0.")
                return data
            if count * UNITS[data.get("every_unit") or "hours"] % 1:
                self.add_error("every", "That is not a whole number of seconds.")
                return data
        trigger = Trigger(
            trigger_type=kind or TriggerType.PERIODIC,
            cron=data.get("cron") or "",
            interval_seconds=self.interval_seconds() if kind == TriggerType.PERIODIC else None,
            timezone=zone_name,
            start_at=data.get("start_at"),
            end_at=data.get("end_at"),
        )
        try:
            lines = trigger.schedules()
        except ScheduleError as exc:
            self.add_error("cron" if kind == TriggerType.CRON else "every", str(exc))
        else:
            if kind == TriggerType.CRON:
                data["cron"] = lines[0]
        start, end = data.get("start_at"), data.get("end_at")
        if start and end and end <= start:
            self.add_error("end_at", "The end must be after the start.")
        return data

    def settings_values(self) -> dict[str, Any]:
        """The schedule's part of Settings, from the cleaned fields."""
        data = self.cleaned_data
        periodic = data["trigger_type"] == TriggerType.PERIODIC
        return {
            "trigger_type": data["trigger_type"],
            "cron": "" if periodic else data.get("cron") or "",
            "interval_seconds": self.interval_seconds() if periodic else None,
            "timezone": data.get("timezone") or "UTC",
            "start_at": data.get("start_at"),
            "end_at": data.get("end_at"),
            "max_concurrency": data["max_concurrency"],
            "catchup": bool(data.get("catchup")),
            "enabled": bool(data.get("enabled")),
        }


class RecurringRunForm(ParameterForm, ScheduleForm):
    # An empty parameter is not stored: each run then takes the version's default (for
    # "always the latest", the default of the version it runs).
    keep_empty_parameters = False

    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    experiment = forms.ModelChoiceField(
        queryset=Experiment.objects.filter(archived_at__isnull=True).order_by("name"),
        empty_label="Choose an experiment…",
        error_messages={"required": "Choose the experiment its runs go to."},
    )
    pipeline = forms.ModelChoiceField(
        queryset=Pipeline.objects.order_by("name"), empty_label="Choose a pipeline…"
    )
    version = VersionChoiceField(
        queryset=PipelineVersion.objects.none(),
        required=False,
        empty_label="Always the latest version",
        help_text="“Always the latest” runs whatever version is newest when each run starts.",
    )
    # The recurring run's revision this edit started from (see RecurringRun.revision).
    revision = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        pipeline: Pipeline | None = None,
        version: PipelineVersion | None = None,
        project_id: int | None = None,
        **kwargs: Any,
    ) -> None:
        """`project_id`: the schedule's project; its experiments and pipelines are the choices
        (default: the Default project)."""
        super().__init__(*args, **kwargs)
        project_id = project_id or default_project()
        for name in ("experiment", "pipeline"):
            field = self.fields[name]
            field.queryset = field.queryset.filter(project_id=project_id)  # type: ignore[attr-defined]
        self.chosen_pipeline = pipeline
        self.chosen_version = version
        if pipeline is not None:
            self.fields["version"].queryset = PipelineVersion.objects.filter(
                pipeline=pipeline
            ).order_by("-created_at")
        # The parameters shown are the chosen version's, or the latest's for "always the latest".
        self.parameter_version = version or (pipeline.latest_version() if pipeline else None)
        self.add_parameter_fields(self.parameter_version)

    @classmethod
    def initial_for(cls, recurring: RecurringRun) -> dict[str, Any]:
        """The form's fields for a stored recurring run (ids, not rows: no query)."""
        zone = ZoneInfo(recurring.timezone or "UTC")
        initial: dict[str, Any] = {"revision": recurring.revision}
        for name in SETTINGS_FIELDS:
            value = getattr(recurring, RecurringRun._meta.get_field(name).attname)
            if name == "parameters":
                for param, given in (value or {}).items():
                    initial[param_field_name(param)] = given
            elif name == "interval_seconds":
                if value:
                    initial["every"], initial["every_unit"] = split_interval(value)
            elif name in ("start_at", "end_at"):
                if value:
                    initial[name] = value.astimezone(zone).replace(tzinfo=None)
            else:
                initial[FORM_NAMES.get(name, name)] = value
        return initial

    def clean_version(self) -> PipelineVersion | None:
        version = self.cleaned_data.get("version")
        pipeline = self.cleaned_data.get("pipeline")
        if version is not None and pipeline is not None and version.pipeline_id != pipeline.pk:
            raise ValidationError("This version belongs to another pipeline.")
        return version

    def to_settings(self) -> Settings:
        data = self.cleaned_data
        values = {name: data.get(FORM_NAMES.get(name, name)) for name in SETTINGS_FIELDS}
        values.update(
            self.settings_values(),
            description=data.get("description") or "",
            parameters=self.parameter_values(),
        )
        return Settings(**values, revision=data.get("revision"))


class PreviewForm(forms.Form):
    """The trigger fields alone, for the live preview ("in words" and the next 5 times)."""

    trigger_type = forms.CharField(required=False)
    every = forms.DecimalField(required=False, max_digits=8, decimal_places=3)
    every_unit = forms.ChoiceField(choices=UNIT_CHOICES, required=False)
    cron = forms.CharField(required=False)
    timezone = forms.CharField(required=False)
    start_at = LocalDateTimeField(required=False)
    end_at = LocalDateTimeField(required=False)

    def trigger(self) -> Trigger:
        """Raises ScheduleError when the fields cannot make a schedule."""
        if not self.is_valid():
            raise ScheduleError("; ".join(e for errors in self.errors.values() for e in errors))
        data = self.cleaned_data
        zone_name = data.get("timezone") or "UTC"
        zone = Trigger("cron", timezone=zone_name).tz
        start = data["start_at"].replace(tzinfo=zone) if data.get("start_at") else None
        end = data["end_at"].replace(tzinfo=zone) if data.get("end_at") else None
        if data.get("trigger_type") == TriggerType.CRON:
            trigger = Trigger(
                "cron", cron=data.get("cron") or "", timezone=zone_name, start_at=start, end_at=end
            )
        else:
            count = data.get("every")
            if count is None or count <= 0:
                raise ScheduleError("Say how often: a number of minutes, hours, days or weeks.")
            seconds = count * UNITS[data.get("every_unit") or "hours"]
            if seconds % 1:
                raise ScheduleError("That is not a whole number of seconds.")
            trigger = Trigger(
                "periodic",
                interval_seconds=int(seconds),
                timezone=zone_name,
                start_at=start,
                end_at=end,
            )
        trigger.check()
        return trigger
