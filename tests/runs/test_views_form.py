"""The run form page: prefilling, HTMX refresh, starting a run, and refusing bad input."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.experiments.models import Experiment
from apps.runs.constants import RunState
from apps.runs.models import Run
from tests.experiments.builders import make_experiment, make_run, make_version

pytestmark = pytest.mark.django_db
CREATE = reverse("runs:create")


def test_needs_login(client):
    response = client.get(CREATE)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_no_pipelines_says_what_to_do(auth_client):
    body = auth_client.get(CREATE).content.decode()
    assert "No pipelines to run yet" in body
    assert reverse("pipelines:upload") in body


def test_prefilled_from_version(auth_client):
    version = make_version("churn", "v2")
    make_experiment("exp")
    response = auth_client.get(f"{CREATE}?version={version.pk}")
    form = response.context["form"]
    assert form["pipeline"].value() == version.pipeline_id
    assert form["version"].value() == version.pk
    assert form["name"].value().startswith("churn v2 20")
    assert form["param_epochs"].value() == "5"
    assert form["param_shuffle"].value() == "true"
    body = response.content.decode()
    assert 'type="number"' in body and 'step="any"' in body
    assert "Training epochs" in body and "Default: 5" in body


def test_prefilled_from_pipeline_takes_latest_version(auth_client):
    make_version("churn", "v1")
    latest = make_version("churn", "v2")
    response = auth_client.get(f"{CREATE}?pipeline={latest.pipeline_id}")
    assert response.context["form"]["version"].value() == latest.pk


def test_prefilled_experiment(auth_client):
    version = make_version()
    experiment = make_experiment("exp")
    response = auth_client.get(f"{CREATE}?version={version.pk}&experiment={experiment.pk}")
    assert response.context["form"]["experiment"].value() == experiment.pk


def test_clone_prefills_everything(auth_client):
    version = make_version()
    experiment = make_experiment("exp")
    source = make_run(
        version,
        experiment,
        name="best",
        description="the good one",
        parameters={"epochs": "9", "lr": "0.5", "shuffle": "false", "label": "y"},
        state=RunState.SUCCEEDED,
    )
    response = auth_client.get(f"{CREATE}?clone={source.pk}")
    form = response.context["form"]
    assert form["name"].value() == "Clone of best"
    assert form["description"].value() == "the good one"
    assert form["experiment"].value() == experiment.pk
    assert form["version"].value() == version.pk
    assert form["param_epochs"].value() == "9"
    assert form["param_shuffle"].value() == "false"
    assert form["clone"].value() == str(source.pk)
    assert "Clone “best”" in response.content.decode()


def test_htmx_version_switch_returns_the_part_and_keeps_parameters(auth_client):
    v1 = make_version("churn", "v1")
    v2 = make_version(
        "churn",
        "v2",
        parameters=[
            {"name": "epochs", "type": "Integer", "default": 3},
            {"name": "depth", "type": "Integer", "default": 4},
        ],
    )
    response = auth_client.get(
        CREATE,
        {
            "pipeline": v1.pipeline_id,
            "version": str(v2.pk),
            "param_epochs": "11",
            "param_lr": "0.3",
            "name": "churn v1 2020-01-01 00:00:00",
            "auto_name": "churn v1 2020-01-01 00:00:00",
        },
        headers={"HX-Request": "true", "HX-Target": "run-form-dynamic"},
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="run-form-dynamic">')
    form = response.context["form"]
    assert form["param_epochs"].value() == "11"  # still applies: kept
    assert form["param_depth"].value() == "4"  # new: its default
    assert "param_lr" not in form.fields  # gone with the old version
    assert form["name"].value().startswith("churn v2 ")  # the proposed name followed


def test_typed_name_survives_a_version_switch(auth_client):
    v1 = make_version("churn", "v1")
    response = auth_client.get(
        CREATE,
        {"pipeline": v1.pipeline_id, "version": str(v1.pk), "name": "mine", "auto_name": "x"},
        headers={"HX-Request": "true", "HX-Target": "run-form-dynamic"},
    )
    assert response.context["form"]["name"].value() == "mine"


def test_refresh_without_javascript_starts_nothing(auth_client):
    version = make_version()
    experiment = make_experiment()
    response = auth_client.post(
        CREATE,
        {"pipeline": version.pipeline_id, "experiment": experiment.pk, "refresh": "1"},
    )
    assert response.status_code == 200
    assert response.context["form"]["version"].value() == version.pk
    assert Run.objects.count() == 0


def _post(version, **extra):
    data = {
        "pipeline": version.pipeline_id,
        "version": str(version.pk),
        "name": "my run",
        "description": "first try",
        "run_type": "one_off",
        "param_epochs": " 12 ",
        "param_lr": "1e-3",
        "param_shuffle": "false",
        "param_label": "",
    }
    data.update(extra)
    return data


def test_start_creates_the_run_and_queues_the_submit(
    auth_client, user, django_capture_on_commit_callbacks
):
    version = make_version()
    experiment = make_experiment("exp")
    with django_capture_on_commit_callbacks() as callbacks:
        response = auth_client.post(CREATE, _post(version, experiment=experiment.pk))
    run = Run.objects.get()
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    assert run.parameters == {"epochs": "12", "lr": "1e-3", "shuffle": "false", "label": "target"}
    assert (run.name, run.description, run.experiment, run.created_by) == (
        "my run",
        "first try",
        experiment,
        user,
    )
    assert run.state == RunState.PENDING
    assert run.workflow_name == f"run-{run.id.hex}"
    assert len(callbacks) == 1  # submit_run.delay, after the commit


def test_start_with_a_new_experiment(auth_client, django_capture_on_commit_callbacks):
    version = make_version()
    with django_capture_on_commit_callbacks():
        auth_client.post(CREATE, _post(version, new_experiment="fresh"))
    run = Run.objects.get()
    assert run.experiment.name == "fresh"


def test_start_a_clone_remembers_its_origin(auth_client, django_capture_on_commit_callbacks):
    version = make_version()
    experiment = make_experiment()
    source = make_run(version, experiment, state=RunState.FAILED)
    with django_capture_on_commit_callbacks():
        auth_client.post(CREATE, _post(version, experiment=experiment.pk, clone=str(source.pk)))
    assert Run.objects.exclude(pk=source.pk).get().cloned_from == source


def test_bad_parameters_show_errors_and_store_nothing(
    auth_client, django_capture_on_commit_callbacks
):
    version = make_version()
    with django_capture_on_commit_callbacks() as callbacks:
        response = auth_client.post(
            CREATE,
            _post(version, new_experiment="never", param_epochs="1.5", param_shuffle="perhaps"),
        )
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["param_epochs"] == ["epochs: '1.5' is not a whole number (Integer expected)"]
    assert form.errors["param_shuffle"] == [
        "shuffle: 'perhaps' is not true or false (Bool expected)"
    ]
    body = response.content.decode()
    assert "The run was not started" in body and "nothing was stored" in body
    assert Run.objects.count() == 0
    assert not Experiment.objects.filter(name="never").exists()
    assert callbacks == []


def test_missing_experiment_and_name(auth_client):
    version = make_version()
    response = auth_client.post(CREATE, _post(version, name=""))
    form = response.context["form"]
    assert "name" in form.errors and "experiment" in form.errors
    assert Run.objects.count() == 0


def test_version_of_another_pipeline_is_refused(auth_client):
    version = make_version("a", "v1")
    other = make_version("b", "v1")
    experiment = make_experiment()
    data = _post(version, experiment=experiment.pk)
    data["version"] = str(other.pk)
    response = auth_client.post(CREATE, data)
    assert response.status_code == 200
    assert "version" in response.context["form"].errors
    assert Run.objects.count() == 0
