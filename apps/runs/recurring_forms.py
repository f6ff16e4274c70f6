"""The recurring-run form: what to run (pipeline, a version or "always the latest", parameters,
experiment) and when (a frequency or a cron expression, timezone, start/end, concurrency).

Start and end are typed as wall-clock times in the schedule's timezone (what a user means by
"from 1 June 09:00" in Paris); they are stored as aware datetimes. The schedule rules live in
apps.runs.schedules; the parameter fields and checks are the one-off run form's."""

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
from apps.runs.constants import TriggerType
from apps.runs.forms import PARAM_PREFIX, VersionChoiceField, param_field_name, parameter_field
from apps.runs.models import RecurringRun
from apps.runs.recurring import Settings
from apps.runs.schedules import UNITS, ScheduleError, Trigger, split_interval, timezone_names

UNIT_CHOICES = [(unit, unit) for unit in UNITS]
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class LocalDateTimeField(forms.DateTimeField):
    """A `datetime-local` input; the value stays naive until the form knows the timezone."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_FORMAT)

    def to_python(self, value: Any) -> datetime | None:
        result = super().to_python(value)
        if result is not None and timezone.is_aware(result):
            result = timezone.make_naive(result)
        return result.replace(second=0, microsecond=0) if result else None


class RecurringRunForm(forms.Form):
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
    # The recurring run's revision this edit started from (see RecurringRun.revision).
    revision = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        pipeline: Pipeline | None = None,
        version: PipelineVersion | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [(n, n) for n in timezone_names()]
        self.chosen_pipeline = pipeline
        self.chosen_version = version
        if pipeline is not None:
            self.fields["version"].queryset = PipelineVersion.objects.filter(
                pipeline=pipeline
            ).order_by("-created_at")
        # The parameters shown are the chosen version's, or the latest's for "always the latest".
        self.parameter_version = version or (pipeline.latest_version() if pipeline else None)
        for param in self.parameter_version.parameters if self.parameter_version else []:
            self.fields[param_field_name(param["name"])] = parameter_field(param)

    @classmethod
    def initial_for(cls, recurring: RecurringRun) -> dict[str, Any]:
        zone = ZoneInfo(recurring.timezone or "UTC")
        initial: dict[str, Any] = {
            "name": recurring.name,
            "description": recurring.description,
            "experiment": recurring.experiment_id,
            "pipeline": recurring.pipeline_id,
            "version": recurring.pipeline_version_id,
            "trigger_type": recurring.trigger_type,
            "cron": recurring.cron,
            "timezone": recurring.timezone,
            "max_concurrency": recurring.max_concurrency,
            "catchup": recurring.catchup,
            "enabled": recurring.enabled,
            "revision": recurring.revision,
        }
        if recurring.interval_seconds:
            initial["every"], initial["every_unit"] = split_interval(recurring.interval_seconds)
        for field in ("start_at", "end_at"):
            value = getattr(recurring, field)
            if value:
                initial[field] = value.astimezone(zone).replace(tzinfo=None)
        for name, value in (recurring.parameters or {}).items():
            initial[param_field_name(name)] = value
        return initial

    def parameter_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(PARAM_PREFIX)]

    def parameter_values(self) -> dict[str, str]:
        return {
            name[len(PARAM_PREFIX) :]: value
            for name, value in self.cleaned_data.items()
            if name.startswith(PARAM_PREFIX) and value not in (None, "")
        }

    def clean_version(self) -> PipelineVersion | None:
        version = self.cleaned_data.get("version")
        pipeline = self.cleaned_data.get("pipeline")
        if version is not None and pipeline is not None and version.pipeline_id != pipeline.pk:
            raise ValidationError("This version belongs to another pipeline.")
        return version

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

    def to_settings(self) -> Settings:
        data = self.cleaned_data
        periodic = data["trigger_type"] == TriggerType.PERIODIC
        return Settings(
            name=data["name"],
            description=data.get("description") or "",
            experiment=data["experiment"],
            pipeline=data["pipeline"],
            pipeline_version=data.get("version"),
            trigger_type=data["trigger_type"],
            cron="" if periodic else data.get("cron") or "",
            interval_seconds=self.interval_seconds() if periodic else None,
            timezone=data.get("timezone") or "UTC",
            start_at=data.get("start_at"),
            end_at=data.get("end_at"),
            max_concurrency=data["max_concurrency"],
            catchup=bool(data.get("catchup")),
            enabled=bool(data.get("enabled")),
            parameters=self.parameter_values(),
            revision=data.get("revision"),
        )

    def add_parameter_errors(self, error: ValidationError) -> None:
        for name, messages in getattr(error, "message_dict", {"": error.messages}).items():
            field = param_field_name(name)
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


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
