"""The one-off run form: pipeline, version, name, experiment (chosen or new), parameters.

The parameter fields come from the chosen version's declared parameters. They are plain text
fields with typed widgets: the values are checked by apps.runs.parameters (the same code the
service and the shell command use), so a bad value reads the same wherever it comes from."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import ModelChoiceIterator
from django.utils import timezone

from apps.experiments.forms import clean_experiment_name
from apps.experiments.models import Experiment
from apps.pipelines.models import Pipeline, PipelineVersion
from apps.pipelines.parameters import display_value
from apps.projects.models import default_project
from apps.runs.run_types import ONE_OFF, run_type_choices

PARAM_PREFIX = "param_"
# The version choice "Always the latest version": a recurring run then runs whatever version is
# newest when each run starts; a one-off run starts the newest version now.
LATEST = "latest"
LATEST_LABEL = "Always the latest version"
VERSION_FIELDS = ("id", "pipeline_id", "name", "created_at", "parameters")


def param_field_name(name: str) -> str:
    return f"{PARAM_PREFIX}{name}"


def default_run_name(version: PipelineVersion) -> str:
    stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M:%S")
    return f"{version.pipeline.name} {version.name} {stamp}"


class VersionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: PipelineVersion) -> str:
        created = timezone.localtime(obj.created_at).strftime("%Y-%m-%d %H:%M")
        return f"{obj.name} · {created}"


class _LatestFirst(ModelChoiceIterator):
    def __iter__(self) -> Iterator[tuple[Any, str]]:
        choices = super().__iter__()
        if self.field.empty_label is not None:
            yield next(choices)
        yield (LATEST, LATEST_LABEL)
        yield from choices

    def __len__(self) -> int:
        return super().__len__() + 1


class VersionOrLatestField(VersionChoiceField):
    """A version of the pipeline, or LATEST (offered right after the empty choice)."""

    iterator = _LatestFirst

    def to_python(self, value: Any) -> Any:
        return LATEST if value == LATEST else super().to_python(value)

    def validate(self, value: Any) -> None:
        if value != LATEST:
            super().validate(value)


def parameter_field(param: dict[str, Any]) -> forms.Field:
    kind = param.get("type") or "String"
    default = param.get("default")
    help_parts = []
    if param.get("description"):
        help_parts.append(str(param["description"]))
    if default not in (None, ""):
        help_parts.append(f"Default: {display_value(kind, default)}")
    elif param.get("required"):
        help_parts.append("Required.")
    attrs: dict[str, Any] = {"data-param-type": kind}
    if kind == "Integer":
        widget: forms.Widget = forms.NumberInput(attrs={**attrs, "step": "1"})
    elif kind == "Float":
        widget = forms.NumberInput(attrs={**attrs, "step": "any"})
    elif kind == "Bool":
        widget = forms.Select(attrs=attrs, choices=[("true", "true"), ("false", "false")])
    else:
        widget = forms.TextInput(attrs=attrs)
    field = forms.CharField(
        label=param["name"],
        required=False,  # an empty value means the default; apps.runs.parameters decides
        strip=kind != "String",
        help_text=" · ".join(help_parts),
        widget=widget,
    )
    field.parameter = param
    return field


class ParameterForm(forms.Form):
    """One field per parameter a version declares (`param_<name>`), for the run form and the
    recurring-run form: the values are checked by apps.runs.parameters, and its errors, keyed
    by parameter, land on the matching fields."""

    # An empty field means "the declared default"; a form may drop it instead of passing "".
    keep_empty_parameters = True

    def add_parameter_fields(self, version: PipelineVersion | None) -> None:
        for param in version.parameters if version is not None else []:
            self.fields[param_field_name(param["name"])] = parameter_field(param)

    def parameter_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(PARAM_PREFIX)]

    def parameter_values(self) -> dict[str, str]:
        return {
            name[len(PARAM_PREFIX) :]: value
            for name, value in self.cleaned_data.items()
            if name.startswith(PARAM_PREFIX)
            and (self.keep_empty_parameters or value not in (None, ""))
        }

    def add_parameter_errors(self, error: ValidationError) -> None:
        """Put a ValidationError keyed by parameter name on the matching fields."""
        for name, messages in getattr(error, "message_dict", {"": error.messages}).items():
            field = param_field_name(name)
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


class ActiveExperimentField(forms.ModelChoiceField):
    """Lists the active experiments; an archived one chosen anyway (an old link, a clone, a
    stale page) is refused by name rather than as "not one of the available choices"."""

    # The experiments of the form's project, archived ones too (RunForm narrows it).
    project_experiments: Any = Experiment.objects.all()

    def to_python(self, value: Any) -> Experiment | None:
        if value in self.empty_values:
            return None
        try:
            experiment = self.project_experiments.get(pk=value)
        except (ValueError, TypeError, Experiment.DoesNotExist):
            raise ValidationError(
                "That experiment no longer exists: choose another.", code="invalid_choice"
            ) from None
        if experiment.archived_at is not None:
            raise ValidationError(
                f"“{experiment.name}” is archived and takes no new runs: restore it first, or "
                "choose another experiment.",
                code="archived",
            )
        return experiment


class RunForm(ParameterForm):
    pipeline = forms.ModelChoiceField(
        queryset=Pipeline.objects.order_by("name"), empty_label="Choose a pipeline…"
    )
    version = VersionOrLatestField(
        queryset=PipelineVersion.objects.none(), empty_label="Choose a version…"
    )
    name = forms.CharField(max_length=200, label="Run name")
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Description"
    )
    experiment = ActiveExperimentField(
        queryset=Experiment.objects.filter(archived_at__isnull=True).order_by("name"),
        required=False,
        empty_label="Choose an experiment…",
    )
    new_experiment = forms.CharField(
        required=False,
        max_length=200,
        label="or create a new experiment",
        widget=forms.TextInput(attrs={"placeholder": "New experiment name"}),
    )
    # One-off, or a type another app registers (apps.runs.run_types); its fields are its own form.
    run_type = forms.ChoiceField(
        choices=run_type_choices, initial=ONE_OFF, widget=forms.RadioSelect
    )
    clone = forms.UUIDField(required=False, widget=forms.HiddenInput)
    # The name the form proposed; a name still equal to it follows the version when it changes.
    auto_name = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        pipeline: Pipeline | None = None,
        version: PipelineVersion | None = None,
        project_id: int | None = None,
        **kwargs: Any,
    ) -> None:
        """`project_id`: the project the run goes to; its pipelines and experiments are the
        choices (default: the Default project)."""
        super().__init__(*args, **kwargs)
        self.project_id = project_id or default_project()
        pipelines = self.fields["pipeline"]
        pipelines.queryset = pipelines.queryset.filter(project_id=self.project_id)  # type: ignore[attr-defined]
        experiments = self.fields["experiment"]
        experiments.queryset = experiments.queryset.filter(project_id=self.project_id)  # type: ignore[attr-defined]
        experiments.project_experiments = Experiment.objects.filter(project_id=self.project_id)  # type: ignore[attr-defined]
        self.chosen_version = version
        self.always_latest = False  # set once cleaned: the view resolves LATEST
        if pipeline is not None:
            self.fields["version"].queryset = (
                PipelineVersion.objects.filter(pipeline=pipeline)
                .only(*VERSION_FIELDS)
                .order_by("-created_at")
            )
        self.add_parameter_fields(version)

    def clean_new_experiment(self) -> str:
        value = self.cleaned_data.get("new_experiment", "")
        return clean_experiment_name(value, self.project_id) if value.strip() else ""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        missing = not data.get("experiment") and not data.get("new_experiment")
        if missing and "new_experiment" not in self.errors and "experiment" not in self.errors:
            self.add_error(
                "experiment", "Choose the experiment this run belongs to, or name a new one."
            )
        return data
