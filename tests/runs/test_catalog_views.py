"""The Artifacts and Executions pages: login, columns, HTMX partials with out-of-band counts,
empty states, pagination, and a query count that does not grow with the page."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.runs.catalog_pages import COUNT_CAP
from apps.runs.catalog_views import node_key, resource_usage
from apps.runs.constants import ArtifactKind, RunState, StepPhase
from apps.runs.models import Step
from apps.runs.templatetags.short_time import ago
from tests.experiments.builders import make_experiment, make_run, make_step, make_version
from tests.runs.test_catalog_filters import add_artifact

pytestmark = pytest.mark.django_db
ARTIFACTS = reverse("artifacts:list")
EXECUTIONS = reverse("executions:list")
HTMX = {"HX-Request": "true"}


@pytest.mark.parametrize("url", [ARTIFACTS, EXECUTIONS, reverse("artifacts:detail", args=[1])])
def test_pages_need_login(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_empty_states_say_what_to_do_next(auth_client):
    # Nothing to run yet: upload a pipeline first.
    body = auth_client.get(ARTIFACTS).content.decode()
    assert "No artifacts yet" in body and "start a run" in body
    assert f'href="{reverse("pipelines:upload")}"' in body
    assert '<span aria-current="page">Artifacts</span>' in body  # breadcrumb
    body = auth_client.get(EXECUTIONS).content.decode()
    assert "No executions yet" in body and f'href="{reverse("pipelines:upload")}"' in body
    assert '<span aria-current="page">Executions</span>' in body
    # A pipeline, no run: start one.
    make_version()
    for url in (ARTIFACTS, EXECUTIONS):
        body = auth_client.get(url).content.decode()
        assert f'href="{reverse("runs:create")}"' in body and "Create run" in body


def test_filtered_empty_state_offers_to_clear(auth_client):
    body = auth_client.get(ARTIFACTS + "?kind=roc").content.decode()
    assert "No artifacts match" in body and "Clear the filters" in body


def test_bad_filter_value_is_named(auth_client):
    body = auth_client.get(ARTIFACTS + "?kind=pdf").content.decode()
    assert "Kind:" in body and "Select a valid choice" in body


@pytest.fixture
def run():
    return make_run(
        make_version("churn", "v7"), make_experiment("alpha"), name="nightly", state="Succeeded"
    )


def test_artifact_row(auth_client, run):
    step = make_step(run, "train(1)", StepPhase.SUCCEEDED)
    artifact = add_artifact(run, step, "report", ArtifactKind.HTML, b"x" * 2048)
    body = auth_client.get(ARTIFACTS).content.decode()
    for text in ("report", "HTML", "nightly", "train(1)", "churn", "v7", "2.0\xa0KB"):
        assert text in body
    assert f'href="{reverse("artifacts:detail", args=[artifact.pk])}"' in body
    assert f'href="{reverse("runs:detail", args=[run.pk])}?node=train"' in body
    assert 'id="kind-count-html">1<' in body


def test_artifact_htmx_answers_the_table_with_counts_out_of_band(auth_client, run):
    step = make_step(run, "train", StepPhase.SUCCEEDED)
    add_artifact(run, step, "report", ArtifactKind.HTML, b"x")
    add_artifact(run, step, "notes", ArtifactKind.MARKDOWN, b"# hi")
    response = auth_client.get(ARTIFACTS + "?kind=markdown", headers=HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="artifact-table"')
    assert "<html" not in body and 'id="artifact-filters"' not in body
    assert "notes" in body and ">report<" not in body
    assert 'id="kind-count-html" hx-swap-oob="true">1<' in body
    assert 'id="kind-count-all" hx-swap-oob="true">2<' in body
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_execution_row(auth_client, run):
    now = timezone.now()
    make_step(
        run,
        "train",
        StepPhase.FAILED,
        template_name="train-t",
        started_at=now - timedelta(seconds=95),
        finished_at=now,
        exit_code=3,
        message="boom",
        resources={"cpu": 75, "memory": 3600},
    )
    make_step(run, run.workflow_name, StepPhase.FAILED, node_type="DAG", node_id="dag")
    body = auth_client.get(EXECUTIONS).content.decode()
    for text in ("train", "train-t", "nightly", "churn", "Failed", "1m 35s", "1m 15s", "1h 00m"):
        assert text in body
    assert f'href="{reverse("runs:detail", args=[run.pk])}?node=train"' in body
    assert '<span class="exit-code error-text"' in body and ">exit 3</span>" in body
    assert 'title="boom"' in body
    assert ">DAG<" not in body
    shown = auth_client.get(EXECUTIONS + "?all=true", headers=HTMX).content.decode()
    assert ">DAG<" in shown and 'id="phase-count-failed" hx-swap-oob="true">2<' in shown


def test_short_ago():
    now = timezone.now()
    assert ago(now - timedelta(seconds=40), now) == "40s ago"
    assert ago(now - timedelta(minutes=5, seconds=3), now) == "5 min ago"
    assert ago(now - timedelta(hours=3), now) == "3 h ago"
    assert ago(now - timedelta(days=2), now) == "2 d ago"
    assert ago(now + timedelta(seconds=2), now) == "just now"
    assert ago(None) == ""
    assert ago(now - timedelta(days=400), now).endswith(str(timezone.localtime(now).year - 1))


def test_node_key_and_resources():
    assert node_key("train(2)") == "train"
    assert node_key("fan(0:a)") == "fan"
    assert node_key("train") == "train"
    assert resource_usage({"cpu": 3, "memory": 0}) == [
        {"label": "CPU", "text": "3s", "title": "3 s of 1 core"}
    ]
    assert resource_usage(None) == []


def _next(body: str) -> str | None:
    match = re.search(r'<a href="([^"]+)" hx-get="[^"]+" rel="next"', body)
    return html.unescape(match.group(1)) if match else None


def test_pages_and_page_sizes(auth_client, run):
    step = make_step(run, "train", StepPhase.SUCCEEDED)
    for n in range(25):
        add_artifact(run, step, f"file-{n:02d}", ArtifactKind.FILE)
    body = auth_client.get(ARTIFACTS + "?sort=name&size=10").content.decode()
    assert "25 artifacts" in body and "file-09" in body and "file-10" not in body
    body = auth_client.get(_next(auth_client.get(_next(body)).content.decode())).content.decode()
    assert "file-20" in body and "file-19" not in body and _next(body) is None
    assert 'rel="prev"' in body and "\u00ab First" in body
    body = auth_client.get(ARTIFACTS + "?size=7").content.decode()  # not an offered size
    assert '<span class="page" aria-current="true">20</span>' in body


def test_count_is_capped(auth_client, run, monkeypatch):
    import apps.runs.catalog_pages as pages

    monkeypatch.setattr(pages, "COUNT_CAP", 3)
    step = make_step(run, "train", StepPhase.SUCCEEDED)
    for n in range(5):
        add_artifact(run, step, f"f{n}", ArtifactKind.FILE)
    # A filter the stored counts cannot answer: a COUNT that stops past the cap.
    body = auth_client.get(ARTIFACTS + "?q=f").content.decode()
    assert "3+ artifacts" in body
    assert COUNT_CAP == 10_000


def _fill(run, count):
    now = timezone.now()
    for n in range(count):
        step = make_step(
            run,
            f"step-{n}",
            StepPhase.SUCCEEDED,
            started_at=now - timedelta(minutes=n + 1),
            finished_at=now - timedelta(minutes=n),
            resources={"cpu": n, "memory": n},
        )
        add_artifact(run, step, f"a-{n}", ArtifactKind.MARKDOWN, b"# x")


@pytest.mark.parametrize("url", [ARTIFACTS, EXECUTIONS])
@pytest.mark.parametrize("rows", [3, 40])
def test_query_count_is_fixed(auth_client, run, django_assert_num_queries, url, rows):
    """session, user, the caller's projects and roles, page, the stored facet counts (which
    give the rows' count too), pipeline and experiment options: 7, whatever the number of rows
    (3 or 40) and the page size; the HTMX table needs no options: 5. An experiment costs
    the query that validates it, its counts read from the stored ones too: 6 (8 when they were
    counted). A filter the stored counts cannot answer (a run) counts the rows and the facets
    instead: 6."""
    _fill(run, rows)
    with django_assert_num_queries(7):
        assert auth_client.get(url + "?size=50").status_code == 200
    with django_assert_num_queries(5):
        assert auth_client.get(url + "?size=10&sort=-size", headers=HTMX).status_code == 200
    one_experiment = f"{url}?size=10&experiment={run.experiment_id}"
    with django_assert_num_queries(6):
        assert auth_client.get(one_experiment, headers=HTMX).status_code == 200
    narrowed = f"{url}?size=10&run={run.pk}"
    with django_assert_num_queries(6):
        assert auth_client.get(narrowed, headers=HTMX).status_code == 200


def test_run_filter_link_on_executions(auth_client, run):
    other = make_run(run.pipeline_version, run.experiment, name="other", state=RunState.RUNNING)
    make_step(run, "mine", StepPhase.SUCCEEDED)
    make_step(other, "theirs", StepPhase.SUCCEEDED)
    body = auth_client.get(EXECUTIONS + f"?run={run.pk}").content.decode()
    assert ">mine<" in body and ">theirs<" not in body
    assert f'name="run" value="{run.pk}"' in body
    assert Step.objects.count() == 2


def test_execution_pages_keep_the_sort(auth_client, run):
    """A keyset page after a duration: the order survives the cursor; unfinished steps last."""
    now = timezone.now()
    for n in range(12):
        make_step(
            run,
            f"s{n:02d}",
            StepPhase.SUCCEEDED,
            started_at=now - timedelta(hours=1),
            finished_at=now - timedelta(hours=1) + timedelta(seconds=10 * (n + 1)),
        )
    make_step(run, "waiting", StepPhase.PENDING)  # no duration: last either way
    first = auth_client.get(EXECUTIONS + "?sort=-duration&size=10").content.decode()
    body = auth_client.get(_next(first)).content.decode()
    names = re.findall(r'\?node=([\w-]+)"', body)
    assert names == ["s01", "s00", "waiting"]
    body = auth_client.get(EXECUTIONS + "?sort=duration&size=10").content.decode()
    assert re.findall(r'\?node=([\w-]+)"', body) == [f"s{n:02d}" for n in range(10)]
