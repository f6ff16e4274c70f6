from __future__ import annotations

from django import forms

from apps.projects.constants import Role
from apps.projects.models import Project


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=150, label="Username")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ProjectForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "description"]
        widgets = {
            "name": forms.TextInput(attrs={"autofocus": True, "placeholder": "e.g. churn team"}),
            "description": forms.Textarea(attrs={"rows": 3}),
        }
        error_messages = {
            "name": {
                "required": "Give the project a name.",
                "unique": "A project of that name exists already: choose another name.",
            }
        }
        help_texts = {"name": "Unique. You become its owner; add members on its Members page."}

    def clean_name(self) -> str:
        return " ".join(self.cleaned_data.get("name", "").split())
