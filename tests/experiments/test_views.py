"""Experiment pages: login, create (and its errors), list with tabs, detail, archive/restore."""

from __future__ import annotations

import pytest
from django.urls import resolve, reverse
from django.utils import timezone

from apps.experiment_archive.services import archive_experiment, restore_experiment
from apps.experiments.models import Experiment
from apps.runs.models import Run
from tests.experiments.builders import make_experiment, make_run, make_version

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        reverse("experiments:list"),
        reverse("experiments:create"),
        reverse("experiments:detail", args=[1]),
        reverse("experiments:archive", args=[1]),
    ],
)
def test_pages_need_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    ("name", "args", "path", "module"),
    [
        ("list", [], "/experiments/", "apps.experiments.views"),
        ("create", [], "/experiments/new/", "apps.experiments.views"),
        ("detail", [7], "/experiments/7/", "apps.runs.experiment_views"),
        ("archive", [7], "/experiments/7/archive/", "apps.experiment_archive.views"),
        ("restore", [7], "/experiments/7/restore/", "apps.experiment_archive.views"),
        ("delete", [7], "/experiments/7/delete/", "apps.experiment_archive.views"),
    ],
)
def test_urls_keep_their_paths_and_names(name, args, path, module):
    """The experiment pages live in three apps (the layering), under the one experiments
    namespace and the paths they always had."""
    assert reverse(f"experiments:{name}", args=args) == path
    match = resolve(path)
    assert match.view_name == f"experiments:{name}"
    assert match.func.__module__ == module


def test_create_experiment(auth_client, user):
    response = auth_client.post(
        reverse("experiments:create"), {"name": "  churn   model ", "description": "why"}
    )
    experiment = Experiment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == experiment.get_absolute_url()
    assert experiment.name == "churn model"
    assert experiment.created_by == user


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give the experiment a name."),
        ("   ", "Give the experiment a name."),
        ("BASELINE", "An experiment named “baseline” already exists."),
    ],
)
def test_create_experiment_errors(auth_client, name, message):
    make_experiment("baseline")
    response = auth_client.post(reverse("experiments:create"), {"name": name})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Experiment.objects.count() == 1


def test_duplicate_of_archived_says_where_it_is(auth_client):
    make_experiment("old", archived_at=timezone.now())
    response = auth_client.post(reverse("experiments:create"), {"name": "old"})
    assert "it is archived: restore it from the Archived tab" in response.content.decode()


def test_list_tabs_and_counts(auth_client):
    version = make_version()
    active = make_experiment("active-one", description="the live one")
    make_experiment("gone", archived_at=timezone.now())
    for _ in range(3):
        make_run(version, active)
    page = auth_client.get(reverse("experiments:list")).content.decode()
    assert "active-one" in page and "the live one" in page
    assert "gone" not in page
    rows = auth_client.get(reverse("experiments:list")).context["page"].object_list
    assert [(e.name, e.run_count) for e in rows] == [("active-one", 3)]
    archived = auth_client.get(reverse("experiments:list") + "?tab=archived").content.decode()
    assert "gone" in archived and "active-one" not in archived


def test_list_search_htmx_renders_table_only(auth_client):
    make_experiment("alpha")
    make_experiment("beta")
    response = auth_client.get(
        reverse("experiments:list") + "?q=alp", headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="experiment-table"')
    assert "alpha" in body and "beta" not in body


def test_list_query_count_is_fixed(auth_client, django_assert_num_queries):
    version = make_version()
    for i in range(3):
        make_run(version, make_experiment(f"e{i}"))
    # session + user + count + page + archived count + the caller's projects and roles
    with django_assert_num_queries(6):
        auth_client.get(reverse("experiments:list"))
    for i in range(3, 25):
        make_run(version, make_experiment(f"e{i}"))
    with django_assert_num_queries(6):
        response = auth_client.get(reverse("experiments:list"))
    assert len(response.context["page"].object_list) == 20


def test_detail_lists_runs_and_links_create_run(auth_client):
    version = make_version()
    experiment = make_experiment("exp")
    other = make_experiment("other")
    mine = make_run(version, experiment, name="mine")
    make_run(version, other, name="theirs")
    response = auth_client.get(experiment.get_absolute_url())
    body = response.content.decode()
    assert mine.get_absolute_url() in body and "theirs" not in body
    assert f"{reverse('runs:create')}?experiment={experiment.pk}" in body


def test_archive_confirmation_then_post(auth_client):
    version = make_version()
    experiment = make_experiment("exp")
    make_run(version, experiment, state="Succeeded")
    make_run(version, experiment, state="Succeeded")
    confirm = auth_client.get(reverse("experiments:archive", args=[experiment.pk]))
    assert "its 2 runs move to the Archived sections" in confirm.content.decode()
    assert Experiment.objects.get().archived_at is None  # GET changes nothing
    response = auth_client.post(reverse("experiments:archive", args=[experiment.pk]), follow=True)
    assert "Archived “exp” and 2 runs." in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.archived_at is not None
    assert set(Run.objects.values_list("archived_at", flat=True)) == {experiment.archived_at}


def test_restore_brings_back_only_runs_archived_with_it(auth_client):
    version = make_version()
    experiment = make_experiment("exp")
    earlier = make_run(
        version,
        experiment,
        state="Succeeded",
        archived_at=timezone.now() - timezone.timedelta(days=1),
    )
    together = make_run(version, experiment, state="Succeeded")
    assert archive_experiment(experiment).runs == 1
    response = auth_client.post(reverse("experiments:restore", args=[experiment.pk]), follow=True)
    assert "and the 1 run archived with it" in response.content.decode()
    earlier.refresh_from_db()
    together.refresh_from_db()
    assert together.archived_at is None
    assert earlier.archived_at is not None
    assert Experiment.objects.get().archived_at is None


def test_archive_twice_is_harmless():
    experiment = make_experiment("exp")
    archive_experiment(experiment)
    first = Experiment.objects.get().archived_at
    assert archive_experiment(Experiment.objects.get()).runs == 0
    assert Experiment.objects.get().archived_at == first
    assert restore_experiment(Experiment.objects.get()).runs == 0
    assert restore_experiment(Experiment.objects.get()).runs == 0


def test_archived_experiment_shows_the_runs_archived_with_it(auth_client):
    version = make_version()
    experiment = make_experiment("exp")
    run = make_run(version, experiment, state="Succeeded", name="went-along")
    archive_experiment(experiment)
    body = auth_client.get(experiment.get_absolute_url()).content.decode()
    assert run.get_absolute_url() in body
    assert "This experiment is archived, with its runs." in body
