from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django import forms
from django.utils import timezone

from apps.api.models import TokenRole


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What will use it, e.g. “GitHub Actions”.",
        error_messages={"required": "Give the token a name."},
        widget=forms.TextInput(attrs={"placeholder": "e.g. CI"}),
    )
    role = forms.ChoiceField(choices=TokenRole.choices, initial=TokenRole.READ)
    project = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        help_text="The token reaches this project only; empty: all your projects.",
    )
    expires_on = forms.DateField(
        required=False,
        label="Expires on",
        help_text="The token stops working at the start of this day. Empty: never.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args: Any, projects: list[Any] | None = None, **kwargs: Any) -> None:
        """`projects`: the user's, the choices of the project field."""
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [("", "All my projects")] + [  # type: ignore[attr-defined]
            (p.pk, p.name) for p in projects or []
        ]

    def clean_expires_on(self) -> date | None:
        day = self.cleaned_data.get("expires_on")
        if day is not None and day <= timezone.localdate():
            raise forms.ValidationError("Choose a day after today.")
        return day

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        return timezone.make_aware(datetime.combine(day, time.min)) if day else None
