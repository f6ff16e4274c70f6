"""The runs list: login, state filter, tabs, pagination, a fixed number of queries."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.runs.constants import RunState
from apps.runs.filters import RunFilter
from apps.runs.models import Run
from tests.experiments.builders import make_experiment, make_run, make_version

pytestmark = pytest.mark.django_db
LIST = reverse("runs:list")


def test_needs_login(client):
    assert client.get(LIST).status_code == 302


def test_empty_list_says_what_to_do(auth_client):
    body = auth_client.get(LIST).content.decode()
    assert "No runs yet" in body and reverse("runs:create") in body


def test_columns(auth_client):
    version = make_version("churn", "v3")
    run = make_run(
        version,
        make_experiment("exp"),
        name="nightly",
        started_at=timezone.now() - timezone.timedelta(seconds=75),
        finished_at=timezone.now(),
        state=RunState.SUCCEEDED,
    )
    body = auth_client.get(LIST).content.decode()
    for text in ("nightly", "Succeeded", "exp", "churn", "v3", "1m 15s", run.get_absolute_url()):
        assert text in body


def test_state_filter():
    version = make_version()
    experiment = make_experiment()
    ok = make_run(version, experiment, state=RunState.SUCCEEDED)
    make_run(version, experiment, state=RunState.FAILED)
    filtered = RunFilter({"state": "Succeeded"}, queryset=Run.objects.all()).qs
    assert list(filtered) == [ok]
    assert RunFilter({"state": "Nope"}, queryset=Run.objects.all()).is_valid() is False


def test_state_filter_page_and_htmx_partial(auth_client):
    version = make_version()
    experiment = make_experiment()
    make_run(version, experiment, name="good", state=RunState.SUCCEEDED)
    make_run(version, experiment, name="bad", state=RunState.FAILED)
    response = auth_client.get(LIST + "?state=Failed", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="run-table"')
    assert "bad" in body and "good" not in body


def test_archived_tab(auth_client):
    version = make_version()
    experiment = make_experiment()
    make_run(version, experiment, name="kept")
    make_run(version, experiment, name="old", archived_at=timezone.now())
    assert [r.name for r in auth_client.get(LIST).context["page"].object_list] == ["kept"]
    archived = auth_client.get(LIST + "?tab=archived").context["page"].object_list
    assert [r.name for r in archived] == ["old"]


def test_pagination_and_fixed_query_count(auth_client, django_assert_num_queries):
    version = make_version()
    experiments = [make_experiment(f"e{i}") for i in range(3)]
    for i in range(3):
        make_run(version, experiments[i % 3])
    # session + user + count + page
    with django_assert_num_queries(4):
        auth_client.get(LIST)
    versions = [make_version("p", f"v{i}") for i in range(4)]
    for i in range(40):
        make_run(versions[i % 4], experiments[i % 3])
    with django_assert_num_queries(4):
        response = auth_client.get(LIST + "?page=2")
    page = response.context["page"]
    assert len(page.object_list) == 20 and page.paginator.count == 43
    assert "21\u201340 of 43 runs" in response.content.decode()
