"""The experiment form: a unique name and an optional description."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.experiments.models import Experiment
from apps.projects.models import default_project


def clean_experiment_name(value: str, project_id: int | None = None) -> str:
    """A stripped, non-empty name no other experiment has (case-insensitively: "Churn" and
    "churn" side by side would only confuse)."""
    name = " ".join((value or "").split())
    if not name:
        raise forms.ValidationError("Give the experiment a name.")
    existing = (
        Experiment.objects.filter(project_id=project_id or default_project())
        .filter(name__iexact=name)
        .first()
    )
    if existing is not None:
        where = (
            " (it is archived: restore it from the Archived tab)" if existing.archived_at else ""
        )
        raise forms.ValidationError(f"An experiment named “{existing.name}” already exists{where}.")
    return name


class ExperimentForm(forms.ModelForm):
    class Meta:
        model = Experiment
        fields = ["name", "description"]
        widgets = {
            "name": forms.TextInput(attrs={"autofocus": True, "placeholder": "e.g. churn-model"}),
            "description": forms.Textarea(attrs={"rows": 3}),
        }
        error_messages = {"name": {"required": "Give the experiment a name."}}
        help_texts = {
            "name": "Unique. Runs are grouped, listed and compared by experiment.",
        }

    def __init__(self, *args: Any, project_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project_id = project_id

    def clean_name(self) -> str:
        return clean_experiment_name(self.cleaned_data.get("name", ""), self.project_id)
