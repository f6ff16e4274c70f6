"""Archiving, restoring and deleting runs: the services' rules, the pages (one run, many),
POST only with CSRF, query counts pinned, artifact files removed from storage."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.experiment_archive.services import archive_experiment
from apps.runs import archive
from apps.runs.constants import RunState
from apps.runs.models import Artifact, Metric, Run
from tests.experiments.builders import make_experiment, make_run, make_step, make_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def version():
    return make_version()


@pytest.fixture
def experiment():
    return make_experiment("exp")


def _with_file(run: Run, name: str = "report.md", body: bytes = b"# hello\n") -> Artifact:
    artifact = Artifact(run=run, name=name, kind="markdown", size=len(body))
    artifact.file.save(name, ContentFile(body))
    return artifact


def _texts(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# -- services ------------------------------------------------------------------------------------


def test_archive_skips_active_and_archived_runs(version, experiment):
    done = make_run(version, experiment, state=RunState.SUCCEEDED, name="done")
    running = make_run(version, experiment, state=RunState.RUNNING, name="busy")
    pending = make_run(version, experiment, state=RunState.PENDING, name="queued")
    old = make_run(version, experiment, state=RunState.FAILED, archived_at=timezone.now())
    outcome = archive.archive_runs([done.pk, running.pk, pending.pk, old.pk, uuid.uuid4()])
    assert [r.pk for r in outcome.done] == [done.pk]
    assert dict((r.pk, reason) for r, reason in outcome.skipped) == {
        running.pk: "is running: terminate it (or let it end) first",
        pending.pk: "is pending: terminate it (or let it end) first",
        old.pk: "is archived already",
    }
    assert outcome.missing == 1
    assert set(Run.objects.filter(archived_at__isnull=False).values_list("pk", flat=True)) == {
        done.pk,
        old.pk,
    }


def test_restore_refuses_runs_of_an_archived_experiment(version, experiment):
    other = make_experiment("other")
    alone = make_run(version, other, state=RunState.SUCCEEDED, archived_at=timezone.now())
    went = make_run(version, experiment, state=RunState.SUCCEEDED)
    archive_experiment(experiment)
    outcome = archive.restore_runs([alone.pk, went.pk])
    assert [r.pk for r in outcome.done] == [alone.pk]
    assert outcome.skipped[0][1] == (
        "belongs to the archived experiment “exp”: restore the experiment to bring it back"
    )
    assert Run.objects.get(pk=alone.pk).archived_at is None
    assert Run.objects.get(pk=went.pk).archived_at is not None


def test_delete_only_archived_runs_and_their_files_after_commit(
    version, experiment, media_root, django_capture_on_commit_callbacks
):
    kept = make_run(version, experiment, state=RunState.SUCCEEDED)
    gone = make_run(version, experiment, state=RunState.SUCCEEDED, archived_at=timezone.now())
    clone = make_run(version, experiment, state=RunState.SUCCEEDED, cloned_from=gone)
    step = make_step(gone, "train", "Succeeded")
    Metric.objects.create(run=gone, step=step, name="accuracy", value=0.9)
    files = [_with_file(gone, "a.md"), _with_file(gone, "b.md"), _with_file(kept, "c.md")]
    paths = [media_root / a.file.name for a in files]
    with django_capture_on_commit_callbacks(execute=True):
        outcome = archive.delete_runs([kept.pk, gone.pk])
    assert [r.pk for r in outcome.done] == [gone.pk]
    assert outcome.skipped[0][1].startswith("is not archived: archive it first")
    assert (outcome.files_removed, outcome.bytes_removed) == (2, 16)
    assert not paths[0].exists() and not paths[1].exists() and not paths[0].parent.exists()
    assert paths[2].exists()
    assert not Run.objects.filter(pk=gone.pk).exists()
    assert not Metric.objects.exists() and Artifact.objects.count() == 1
    clone.refresh_from_db()
    assert clone.cloned_from is None  # the clone stays, without its origin


def test_files_stay_when_the_delete_rolls_back(version, experiment, media_root):
    gone = make_run(version, experiment, state=RunState.SUCCEEDED, archived_at=timezone.now())
    path = media_root / _with_file(gone).file.name
    # pytest-django's test transaction never commits: the on_commit removal never runs.
    archive.delete_runs([gone.pk])
    assert path.exists()


@pytest.mark.parametrize(
    "values, message",
    [
        (["not-a-uuid"], "“not-a-uuid” is not a run id."),
        ([",".join(str(uuid.uuid4()) for _ in range(501))], "Select at most 500 runs"),
    ],
)
def test_parse_ids_names_the_problem(values, message):
    with pytest.raises(archive.SelectionError, match=message):
        archive.parse_ids(values)


def test_parse_ids_takes_commas_and_repeats_in_order():
    a, b = uuid.uuid4(), uuid.uuid4()
    assert archive.parse_ids([f"{a},{b}", str(a), ""]) == [a, b]


# -- one run, from its page ---------------------------------------------------------------------


def test_run_page_offers_archive_then_restore_and_delete(auth_client, version, experiment):
    run = make_run(version, experiment, state=RunState.SUCCEEDED)
    body = auth_client.get(run.get_absolute_url() + "?tab=details").content.decode()
    assert reverse("runs:archive", args=[run.pk]) in body
    assert reverse("runs:delete", args=[run.pk]) not in body
    response = auth_client.post(reverse("runs:archive", args=[run.pk]), follow=True)
    assert response.redirect_chain[-1][0] == run.get_absolute_url()
    assert _texts(response)[0].startswith(f"Archived “{run.name}”. Find it in the Archived tab")
    body = response.content.decode()
    assert reverse("runs:restore", args=[run.pk]) in body
    assert reverse("runs:delete", args=[run.pk]) in body
    response = auth_client.post(reverse("runs:restore", args=[run.pk]), follow=True)
    assert _texts(response) == [f"Restored “{run.name}”."]
    assert Run.objects.get().archived_at is None


def test_archiving_an_active_run_says_to_terminate_it(auth_client, version, experiment):
    run = make_run(version, experiment, state=RunState.RUNNING, name="busy")
    page = auth_client.get(reverse("runs:archive", args=[run.pk])).content.decode()
    assert "This run cannot be archived now:" in page
    assert "Archive refused: it is running: terminate it (or let it end) first." in page
    assert reverse("runs:terminate", args=[run.pk]) in page
    assert 'type="submit"' not in page.split('class="card confirm-card"')[1]
    response = auth_client.post(reverse("runs:archive", args=[run.pk]), follow=True)
    assert _texts(response) == [
        "Not archived: “busy” is running: terminate it (or let it end) first."
    ]
    assert Run.objects.get().archived_at is None


def test_delete_confirms_then_removes_and_goes_to_the_archive(
    auth_client, version, experiment, media_root
):
    run = make_run(version, experiment, state=RunState.SUCCEEDED, archived_at=timezone.now())
    path = media_root / _with_file(run).file.name
    url = reverse("runs:delete", args=[run.pk])
    page = auth_client.get(url).content.decode()
    assert "This deletes the runs for good" in page and "1 artifact file (8" in page
    assert Run.objects.exists()
    response = auth_client.post(url, follow=True)
    assert response.redirect_chain[-1][0] == reverse("runs:list") + "?tab=archived"
    assert _texts(response) == [f"Deleted “{run.name}” and 1 artifact file (8\xa0bytes)."]
    assert not Run.objects.exists()
    # The file goes once the deletion commits (the test's transaction never does):
    # test_delete_only_archived_runs_and_their_files_after_commit checks the removal itself.
    assert path.exists()


def test_delete_refuses_an_active_list_run(auth_client, version, experiment):
    run = make_run(version, experiment, state=RunState.SUCCEEDED)
    response = auth_client.post(reverse("runs:delete", args=[run.pk]), follow=True)
    assert "is not archived: archive it first" in _texts(response)[0]
    assert Run.objects.exists()


def test_actions_need_post_with_csrf(version, experiment, user, auth_client):
    run = make_run(version, experiment, state=RunState.SUCCEEDED)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    for name in ("runs:archive", "runs:restore", "runs:delete"):
        assert client.post(reverse(name, args=[run.pk])).status_code == 403
        assert auth_client.put(reverse(name, args=[run.pk])).status_code == 405
        assert auth_client.get(reverse(name, args=[run.pk])).status_code == 200  # a question
    for name in ("runs:archive_many", "runs:restore_many", "runs:delete_many"):
        assert client.post(reverse(name), {"runs": str(run.pk)}).status_code == 403
    assert Run.objects.get().archived_at is None


def test_anonymous_is_sent_to_login(client, version, experiment):
    run = make_run(version, experiment, state=RunState.SUCCEEDED)
    response = client.post(reverse("runs:archive", args=[run.pk]))
    assert response.status_code == 302 and "login" in response["Location"]
    assert Run.objects.get().archived_at is None


# -- many runs, selected in a list ---------------------------------------------------------------


def test_bulk_archive_reports_each_run_left_alone(auth_client, version, experiment):
    a = make_run(version, experiment, state=RunState.SUCCEEDED)
    b = make_run(version, experiment, state=RunState.FAILED)
    busy = make_run(version, experiment, state=RunState.RUNNING, name="busy")
    response = auth_client.post(
        reverse("runs:archive_many"),
        {"runs": [str(a.pk), f"{b.pk},{busy.pk}"], "next": "/runs/?state=Succeeded"},
        follow=True,
    )
    assert response.redirect_chain[0][0] == "/runs/?state=Succeeded"
    assert _texts(response) == [
        "Archived 2 runs. Find them in the Archived tab of Runs; Restore brings them back.",
        "Not archived: “busy” is running: terminate it (or let it end) first.",
    ]
    assert Run.objects.filter(archived_at__isnull=False).count() == 2


def test_bulk_refuses_an_outside_next_and_a_bad_id(auth_client, version, experiment):
    run = make_run(version, experiment, state=RunState.SUCCEEDED)
    response = auth_client.post(
        reverse("runs:archive_many"), {"runs": str(run.pk), "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("runs:list")
    auth_client.get(reverse("runs:list"))  # reads the message
    response = auth_client.post(reverse("runs:restore_many"), {"runs": "nope"}, follow=True)
    assert _texts(response) == ["“nope” is not a run id."]
    response = auth_client.post(reverse("runs:delete_many"), {}, follow=True)
    assert _texts(response) == ["Select the runs to delete first."]


def test_bulk_confirm_page_lists_the_runs_with_fixed_queries(
    auth_client, version, experiment, django_assert_num_queries
):
    runs = [make_run(version, experiment, state=RunState.SUCCEEDED) for _ in range(3)]
    query = "&".join(f"runs={r.pk}" for r in runs)
    # session, user, runs (with experiment, version, pipeline), the caller's projects and roles,
    # which selected runs they may change
    with django_assert_num_queries(5):
        page = auth_client.get(f"{reverse('runs:archive_many')}?{query}").content.decode()
    assert "Archive 3 runs" in page
    more = [make_run(version, experiment, state=RunState.SUCCEEDED) for _ in range(20)]
    query = "&".join(f"runs={r.pk}" for r in runs + more)
    with django_assert_num_queries(5):
        page = auth_client.get(f"{reverse('runs:archive_many')}?{query}").content.decode()
    assert "Archive 23 runs" in page


def test_bulk_actions_cost_fixed_queries(
    auth_client, version, experiment, django_assert_num_queries
):
    def ids(n: int) -> list[str]:
        return [str(make_run(version, experiment, state=RunState.SUCCEEDED).pk) for _ in range(n)]

    # session, user, savepoint, lock+select, update, release, (message storage is a cookie)
    few, many = ids(2), ids(25)
    with django_assert_num_queries(8):
        auth_client.post(reverse("runs:archive_many"), {"runs": few})
    with django_assert_num_queries(8):
        auth_client.post(reverse("runs:archive_many"), {"runs": many})
    assert Run.objects.filter(archived_at__isnull=True).count() == 0
