"""The run form's Run types beyond One-off. An app above apps.runs (apps.recurring: Recurring)
registers its type from its AppConfig.ready(); the run form then offers it without apps.runs
importing that app (tests/architecture: runs sits below recurring).

A type brings a form of its own fields (checked only when the type is chosen), the template
that renders them (given `form`, and `preview` from `context`), and `create`, which makes its
object from the run form's common choices inside the view's transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms

ONE_OFF = "one_off"
ONE_OFF_LABEL, ONE_OFF_HINT, ONE_OFF_SUBMIT = "One-off", "runs once, now", "Start run"


class RunTypeRefused(Exception):
    """What the user must read, shown at the top of the form; nothing was stored."""


@dataclass(frozen=True)
class Choices:
    """The run form's common choices, cleaned: what every type is made from."""

    version: Any  # PipelineVersion
    experiment: Any  # Experiment (created already when the user named a new one)
    name: str
    description: str
    parameters: dict[str, str]  # as typed; an empty value means the declared default
    user: Any
    # "Always the latest version": `version` is the newest now; a recurring run follows it.
    always_latest: bool = False


@dataclass(frozen=True)
class RunType:
    value: str
    label: str
    hint: str
    submit_label: str
    form_class: type[forms.Form]
    template: str
    # Makes the object; returns (its URL, a success message). Raises ValidationError keyed by
    # parameter, or RunTypeRefused.
    create: Callable[[Choices, forms.Form], tuple[str, str]]
    context: Callable[[forms.Form], dict[str, Any]] = field(default=lambda form: {})


_REGISTRY: dict[str, RunType] = {}


def register(run_type: RunType) -> None:
    _REGISTRY[run_type.value] = run_type


def extra_run_types() -> list[RunType]:
    return list(_REGISTRY.values())


def get_run_type(value: Any) -> RunType | None:
    return _REGISTRY.get(value) if isinstance(value, str) else None


def run_type_choices() -> list[tuple[str, str]]:
    return [(ONE_OFF, ONE_OFF_LABEL)] + [(t.value, t.label) for t in extra_run_types()]


def run_type_options() -> list[dict[str, str]]:
    """What the run form's Run type radios show, One-off first."""
    one_off = {"value": ONE_OFF, "label": ONE_OFF_LABEL, "hint": ONE_OFF_HINT}
    return [{**one_off, "submit_label": ONE_OFF_SUBMIT}] + [
        {"value": t.value, "label": t.label, "hint": t.hint, "submit_label": t.submit_label}
        for t in extra_run_types()
    ]
