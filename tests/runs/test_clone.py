"""Clone: from a run's page or a list's single selection, the form prefilled to review and start;
the clone remembers its origin; switching the version keeps the parameters that still apply
(same name, right type) and takes the defaults of the others; archived experiments refused."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.experiment_archive.services import archive_experiment
from apps.runs.constants import RunState
from apps.runs.models import Run
from tests.experiments.builders import make_experiment, make_run, make_version

pytestmark = pytest.mark.django_db
CREATE = reverse("runs:create")
V2_PARAMETERS = [
    {"name": "epochs", "type": "Integer", "default": 3},
    {"name": "lr", "type": "Integer", "default": 7},  # now a whole number
    {"name": "depth", "type": "Integer", "default": 4},  # new
]


@pytest.fixture
def source():
    return make_run(
        make_version(),
        make_experiment("exp"),
        name="best",
        description="the good one",
        parameters={"epochs": "9", "lr": "0.5", "shuffle": "false", "label": "y"},
        state=RunState.SUCCEEDED,
    )


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_run_page_has_the_clone_button(auth_client, source):
    body = auth_client.get(source.get_absolute_url()).content.decode()
    assert f'href="{CREATE}?clone={source.pk}"' in body


def test_a_single_selection_in_a_list_opens_the_prefilled_form(auth_client, source):
    response = auth_client.get(CREATE, {"runs": str(source.pk)})
    form = response.context["form"]
    assert form["clone"].value() == str(source.pk)
    assert form["version"].value() == source.pipeline_version_id
    assert form["experiment"].value() == source.experiment_id
    assert form["param_epochs"].value() == "9" and form["param_label"].value() == "y"
    assert form["description"].value() == "the good one"


def test_clone_needs_exactly_one_selected_run(auth_client, source):
    other = make_run(source.pipeline_version, source.experiment, state=RunState.SUCCEEDED)
    response = auth_client.get(
        CREATE, {"runs": f"{source.pk},{other.pk}"}, headers={"referer": "/runs/?state=Failed"}
    )
    assert response.status_code == 302 and response["Location"] == "/runs/?state=Failed"
    followed = auth_client.get(response["Location"])
    assert _messages(followed) == ["Select exactly one run to clone (2 selected)."]


def test_switching_the_version_keeps_what_still_applies(auth_client, source):
    v2 = make_version("churn", "v2", parameters=V2_PARAMETERS)
    # What the form sends when the version select changes (HTMX), with the clone's values.
    response = auth_client.get(
        CREATE,
        {
            "pipeline": v2.pipeline_id,
            "version": str(v2.pk),
            "clone": str(source.pk),
            "name": "Clone of best",
            "param_epochs": "9",
            "param_lr": "0.5",
            "param_shuffle": "false",
            "param_label": "y",
        },
        headers={"HX-Request": "true", "HX-Target": "run-form-dynamic"},
    )
    form = response.context["form"]
    assert form["param_epochs"].value() == "9"  # same name, still an Integer: kept
    assert form["param_lr"].value() == "7"  # 0.5 is no Integer: v2's default
    assert form["param_depth"].value() == "4"  # new in v2: its default
    assert "param_shuffle" not in form.fields and "param_label" not in form.fields
    assert form["clone"].value() == str(source.pk)  # still a clone
    assert form["name"].value() == "Clone of best"


def test_start_the_clone_with_a_changed_parameter(
    auth_client, source, django_capture_on_commit_callbacks
):
    data = {
        "pipeline": source.pipeline_version.pipeline_id,
        "version": str(source.pipeline_version_id),
        "experiment": source.experiment_id,
        "name": "Clone of best",
        "description": "the good one",
        "run_type": "one_off",
        "clone": str(source.pk),
        "param_epochs": "20",
        "param_lr": "0.5",
        "param_shuffle": "false",
        "param_label": "y",
    }
    with django_capture_on_commit_callbacks() as callbacks:
        response = auth_client.post(CREATE, data)
    clone = Run.objects.exclude(pk=source.pk).get()
    assert response["Location"] == clone.get_absolute_url()
    assert clone.cloned_from == source and len(callbacks) == 1
    assert clone.parameters == {"epochs": "20", "lr": "0.5", "shuffle": "false", "label": "y"}
    page = auth_client.get(clone.get_absolute_url()).content.decode()
    header = page.split('id="run-status"')[1].split('<ul class="tabs"')[0]  # above the tabs
    assert f'Cloned from <a href="{source.get_absolute_url()}">best</a>' in header


def test_an_archived_experiment_takes_no_new_runs(auth_client, source):
    archive_experiment(source.experiment)
    data = {
        "pipeline": source.pipeline_version.pipeline_id,
        "version": str(source.pipeline_version_id),
        "experiment": source.experiment_id,
        "name": "late",
        "run_type": "one_off",
    }
    response = auth_client.post(CREATE, data)
    assert response.status_code == 200
    assert response.context["form"].errors["experiment"] == [
        "“exp” is archived and takes no new runs: restore it first, or choose another experiment."
    ]
    assert Run.objects.count() == 1


def test_cloning_a_run_of_an_archived_experiment_asks_for_another(auth_client, source):
    archive_experiment(source.experiment)
    response = auth_client.get(CREATE, {"clone": str(source.pk)})
    assert response.context["form"]["experiment"].value() in (None, "")
    assert _messages(response) == [
        "The original experiment “exp” is archived: choose another experiment for the clone "
        "(or restore it first)."
    ]


def test_a_deleted_original_is_said(auth_client):
    import uuid

    make_version()
    response = auth_client.get(CREATE, {"clone": str(uuid.uuid4())})
    assert response.status_code == 200
    assert _messages(response) == ["The run to clone no longer exists: start a new run instead."]
