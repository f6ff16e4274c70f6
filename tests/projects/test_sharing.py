"""Issue 13's acceptance: nothing of project A is visible or changeable from project B.

Every URL pattern of the site (walked from the resolver) and every operation of the API (walked
from its OpenAPI document) is called, GET and POST (the API: its own method), with the ids of
A's objects, as a member of B and as an anonymous caller. None answers anything of A: A's
names never appear in a page or a response, A's objects are unchanged afterwards, and the
lists and counts of B show zero of A's. Then the roles inside one project: a viewer cannot
change, an editor can run, an owner manages the members (and keeps the last owner)."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from apps.api.api import api
from apps.api.models import ApiToken
from apps.api.tokens import issue_token
from apps.editor.models import Draft
from apps.experiments.models import Experiment
from apps.notifications.models import Subscription
from apps.pipelines.models import Pipeline
from apps.projects.models import Membership, Project
from apps.recurring.models import RecurringRun
from apps.runs import event_views
from apps.runs.constants import ArtifactKind, RunState, StepPhase
from apps.runs.forms import param_field_name
from apps.runs.models import Artifact, Metric, MetricPoint, Run
from tests.experiments.builders import make_run, make_step, make_version

pytestmark = pytest.mark.django_db
SECRET = "zqxsecret"  # in every name of A's objects: a page that shows one leaks


@pytest.fixture
def world(django_user_model) -> dict[str, Any]:
    a = Project.objects.create(name=f"{SECRET}-project", slug="a")
    b = Project.objects.create(name="Team B", slug="b")
    owner_a = django_user_model.objects.create_user(f"{SECRET}-owner", password="pw-123456")
    bob = django_user_model.objects.create_user("bob", password="pw-123456")
    # conftest makes every new user an owner of the Default project: not here.
    Membership.objects.filter(user__in=[owner_a, bob]).delete()
    Membership.objects.create(project=a, user=owner_a, role="owner")
    Membership.objects.create(project=b, user=bob, role="owner")

    pipeline = Pipeline.objects.create(name=f"{SECRET}-pipeline", project=a)
    version = make_version(pipeline.name, f"{SECRET}-v1")
    experiment = Experiment.objects.create(name=f"{SECRET}-experiment", project=a)
    run = make_run(version, experiment, name=f"{SECRET}-run", state=RunState.RUNNING)
    step = make_step(run, f"{SECRET}-step", StepPhase.RUNNING, started_at=timezone.now())
    artifact = Artifact(run=run, step=step, name=f"{SECRET}-artifact", kind=ArtifactKind.HTML)
    artifact.file.save(f"{run.pk}/report.html", ContentFile(b"<p>report</p>"), save=False)
    artifact.save()
    Metric.objects.create(run=run, step=step, name=f"{SECRET}_acc", value=0.9)
    MetricPoint.objects.create(run=run, step=step, name=f"{SECRET}_acc", index=1, value=0.9)
    recurring = RecurringRun.objects.create(
        name=f"{SECRET}-schedule",
        experiment=experiment,
        pipeline=pipeline,
        trigger_type="cron",
        cron="0 * * * *",
    )
    draft = Draft.objects.create(owner=owner_a, name=f"{SECRET}-draft", project=a)
    subscription = Subscription.objects.create(
        experiment=experiment, channel="email", email=f"{SECRET}@example.com", events=["failed"]
    )
    # B has something of its own, so that B's lists are not trivially empty.
    mine = Pipeline.objects.create(name="b-pipeline", project=b)
    make_run(
        make_version(mine.name, "b-v1"),
        Experiment.objects.create(name="b-experiment", project=b),
        name="b-run",
        state=RunState.SUCCEEDED,
    )
    return {
        "a": a,
        "b": b,
        "owner_a": owner_a,
        "bob": bob,
        "pipeline": pipeline,
        "version": version,
        "experiment": experiment,
        "run": run,
        "step": step,
        "artifact": artifact,
        "recurring": recurring,
        "draft": draft,
        "subscription": subscription,
        "membership": Membership.objects.get(project=a, user=owner_a),
        "token": issue_token(owner_a, name=f"{SECRET}-token", role="write")[0],
    }


def _snapshot(w: dict[str, Any]) -> dict[str, Any]:
    """What a change to A's objects would alter."""
    run = Run.objects.get(pk=w["run"].pk)
    return {
        "run": (run.state, run.archived_at, run.name),
        "runs": Run.objects.filter(experiment__project=w["a"]).count(),
        "experiment": Experiment.objects.filter(pk=w["experiment"].pk)
        .values_list("archived_at", "name")
        .first(),
        "pipelines": list(Pipeline.objects.filter(project=w["a"]).values_list("pk", "name")),
        "versions": w["pipeline"].versions.count(),
        "recurring": RecurringRun.objects.filter(pk=w["recurring"].pk)
        .values_list("enabled", "name", "revision")
        .first(),
        "draft": Draft.objects.filter(pk=w["draft"].pk).values_list("name", "revision").first(),
        "subscriptions": Subscription.objects.filter(experiment=w["experiment"]).count(),
        "members": sorted(Membership.objects.filter(project=w["a"]).values_list("user_id", "role")),
        "artifacts": Artifact.objects.filter(run=w["run"]).count(),
        "metrics": Metric.objects.filter(run=w["run"]).count(),
        "token": ApiToken.objects.filter(pk=w["token"].pk).values_list("revoked_at").first(),
    }


# -- the site's URL patterns ---------------------------------------------------------------------


def _patterns(resolvers: list[Any], prefix: str = "", namespace: str = "") -> list[tuple]:
    found = []
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            found += _patterns(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            found.append((namespace, entry.name, prefix + str(entry.pattern)))
    return found


def _value(w: dict[str, Any], namespace: str, param: str) -> str:
    """A's object for a URL parameter, by the URL's namespace and the parameter's name."""
    by_namespace = {
        "pipelines": w["pipeline"].pk,
        "experiments": w["experiment"].pk,
        "runs": w["run"].pk,
        "recurring": w["recurring"].pk,
        "editor": w["draft"].pk,
        "artifacts": w["artifact"].pk,
        "projects": w["a"].pk,
        "settings": w["token"].pk,
    }
    values = {
        "version_id": w["version"].pk,
        "artifact_id": w["artifact"].pk,
        "key": w["step"].display_name,
        "project_id": w["a"].pk,
        "membership_id": w["membership"].pk,
        "kind": "experiment",
        "sub_pk": w["subscription"].pk,
    }
    if param == "pk":
        if namespace == "notifications":
            return str(w["experiment"].pk)
        return str(by_namespace[namespace])
    if param in values:
        return str(values[param])
    raise AssertionError(f"{namespace}: no value for <{param}>: add it to _value")


# Not pages of the app's data: sign-in, the engine-facing signed downloads (a signature, not
# a session, guards them: tests/pipelines), health checks, the icon (public: tests/test_favicon),
# the API (walked below by its document), the admin (for staff; tested apart: see
# test_admin_changelists_are_scoped).
SKIPPED = re.compile(r"^(accounts/|steps/|healthz|readyz|favicon\.ico|api/v1/|admin/)")


def _urls(w: dict[str, Any]) -> list[str]:
    urls = []
    for namespace, _name, pattern in _patterns(get_resolver().url_patterns):
        if SKIPPED.match(pattern):
            continue
        url = re.sub(
            r"<(?:\w+:)?(\w+)>", lambda m, ns=namespace: _value(w, ns, m.group(1)), pattern
        ).replace("^", "")
        urls.append("/" + url)
    # The notifications of a recurring run too (the walk filled in an experiment's).
    urls.append(reverse("notifications:section", args=["recurring", w["recurring"].pk]))
    return urls


def _post_data(w: dict[str, Any]) -> dict[str, Any]:
    """A form that names A's objects wherever a form takes one."""
    return {
        "project": w["a"].pk,
        "runs": str(w["run"].pk),
        "pipeline": w["pipeline"].pk,
        "version": str(w["version"].pk),
        "experiment": w["experiment"].pk,
        "clone": str(w["run"].pk),
        "name": "taken over",
        "username": "bob",
        "role": "owner",
        "remove": "1",
        "channel": "email",
        "email": "bob@example.com",
        "events": "failed",
        "target": "existing",
    }


def _assert_nothing_of_a(response: Any, what: str, url: str = "") -> None:
    """No name of A's in the answer, besides what the request itself said (a URL's step key
    echoed back is no leak)."""
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode(errors="replace") + "\n" + response.get("Location", "")
    for echoed in (part for part in url.split("/") if SECRET in part):
        text = text.replace(echoed, "")
    assert SECRET not in text, f"{what}: A's data in the answer"


def test_no_page_shows_or_changes_anything_of_another_project(client, world, monkeypatch):
    # An event stream ends at once after its first frame, so the walk reads it whole (what it
    # carries across projects: tests/runs/test_push_events.py).
    monkeypatch.setattr(event_views, "LIFETIME", 0.0)
    w = world
    before = _snapshot(w)
    urls = _urls(w)
    assert len(urls) > 40, urls  # the walk found the site
    client.force_login(w["bob"])
    for url in urls:
        for method in ("get", "post"):
            data = _post_data(w) if method == "post" else {}
            response = getattr(client, method)(url, data)
            what = f"bob {method.upper()} {url}"
            assert response.status_code in (200, 302, 400, 403, 404, 405), what
            _assert_nothing_of_a(response, what, url)
    client.logout()
    for url in urls:
        for method in ("get", "post"):
            response = getattr(client, method)(url, _post_data(w) if method == "post" else {})
            what = f"anonymous {method.upper()} {url}"
            if response.status_code == 302:
                assert response["Location"].startswith(reverse("login")), what
            else:
                assert response.status_code in (401, 403, 404, 405), what
            _assert_nothing_of_a(response, what, url)
    assert _snapshot(w) == before


def test_lists_and_counts_show_none_of_another_project(client, world):
    w = world
    client.force_login(w["bob"])
    runs = client.get(reverse("runs:list"))
    assert [run.name for run in runs.context["listing"].runs] == ["b-run"]
    assert sum(n for _, n, _ in runs.context["listing"].state_counts) == 1
    artifacts = client.get(reverse("artifacts:list"))
    assert artifacts.context["page"].count == 0
    assert all(item["count"] == 0 for item in artifacts.context["facets"]["items"])
    executions = client.get(reverse("executions:list"))
    assert executions.context["page"].count == 0
    assert all(item["count"] == 0 for item in executions.context["facets"]["items"])
    pipelines = client.get(reverse("pipelines:list"))
    assert [p.name for p in pipelines.context["page"]] == ["b-pipeline"]
    experiments = client.get(reverse("experiments:list"))
    assert [e.name for e in experiments.context["page"]] == ["b-experiment"]
    assert list(client.get(reverse("recurring:list")).context["page"]) == []
    # The runs list's metric names are the project's: A's metric is not offered.
    assert f"{SECRET}_acc" not in runs.context["listing"].metric_names
    # A's owner, in A, sees A's.
    client.force_login(w["owner_a"])
    runs = client.get(reverse("runs:list"))
    assert [run.name for run in runs.context["listing"].runs] == [f"{SECRET}-run"]
    artifacts = client.get(reverse("artifacts:list"))
    assert artifacts.context["page"].count == 1


# -- the API's operations -------------------------------------------------------------------------


def _operations() -> list[tuple[str, str]]:
    schema = api.get_openapi_schema()
    return [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]


def _api_url(w: dict[str, Any], path: str) -> str:
    values = {
        "pipeline_id": w["pipeline"].pk,
        "version_id": w["version"].pk,
        "experiment_id": w["experiment"].pk,
        "run_id": w["run"].pk,
        "step_id": w["step"].pk,
        "artifact_id": w["artifact"].pk,
        "recurring_id": w["recurring"].pk,
    }

    def value(match: re.Match[str]) -> str:
        assert match.group(1) in values, f"{path}: no value for {{{match.group(1)}}}"
        return str(values[match.group(1)])

    return re.sub(r"{(\w+)}", value, path)


def _api_body(w: dict[str, Any]) -> str:
    return json.dumps(
        {
            "version": str(w["version"].pk),
            "experiment": str(w["experiment"].pk),
            "pipeline": str(w["pipeline"].pk),
            "name": "taken over",
            "trigger_type": "cron",
            "cron": "0 * * * *",
            "parameters": {},
        }
    )


def test_no_api_operation_shows_or_changes_anything_of_another_project(client, world):
    w = world
    before = _snapshot(w)
    operations = _operations()
    assert len(operations) > 25, operations
    _, token = issue_token(w["bob"], name="bob's CI", role="write")
    for who, headers in (("bob", {"Authorization": f"Bearer {token}"}), ("anonymous", {})):
        for method, path in operations:
            url = _api_url(w, path)
            what = f"{who} {method} {url}"
            kwargs: dict[str, Any] = {"headers": headers}
            if method in ("POST", "PUT", "PATCH"):
                kwargs.update(data=_api_body(w), content_type="application/json")
            response = client.generic(method, url, **kwargs)
            if who == "anonymous" and "openapi" not in path and not path.endswith("/docs"):
                assert response.status_code == 401, what
            else:
                assert response.status_code < 500, what
                assert response.status_code in (200, 201, 400, 404, 409, 422), what
            _assert_nothing_of_a(response, what)
            if response.status_code < 300:  # an error may name the id it was asked for
                ids = [str(w[k].pk) for k in ("run", "version", "recurring")]
                body = response.content.decode(errors="replace")
                assert not any(pk in body for pk in ids), f"{what}: A's id in the answer"
    assert _snapshot(w) == before


def test_a_token_scoped_to_a_project_sees_only_that_project(client, world, django_user_model):
    w = world
    Membership.objects.create(project=w["a"], user=w["bob"], role="editor")
    _, every = issue_token(w["bob"], name="all", role="read")
    mine = client.get("/api/v1/projects", headers={"Authorization": f"Bearer {every}"}).json()
    assert [(p["slug"], p["role"]) for p in mine] == [("b", "viewer"), ("a", "viewer")]
    _, token = issue_token(w["bob"], name="B only", role="write", project_id=w["b"].pk)
    headers = {"Authorization": f"Bearer {token}"}
    assert [p["slug"] for p in client.get("/api/v1/projects", headers=headers).json()] == ["b"]
    names = [r["name"] for r in client.get("/api/v1/runs", headers=headers).json()["items"]]
    assert names == ["b-run"]
    assert client.get(f"/api/v1/runs/{w['run'].pk}", headers=headers).status_code == 404
    # A read token caps bob's editor role in A: no change.
    _, read = issue_token(w["bob"], name="read", role="read", project_id=w["a"].pk)
    url = f"/api/v1/runs/{w['run'].pk}/archive"
    response = client.post(url, headers={"Authorization": f"Bearer {read}"})
    assert response.status_code == 403
    Run.objects.get(pk=w["run"].pk, archived_at__isnull=True)


def test_admin_changelists_are_scoped(client, world):
    w = world
    bob = w["bob"]
    bob.is_staff = True
    bob.save()
    from django.contrib.auth.models import Permission

    bob.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client.force_login(bob)
    for model in ("pipelines/pipeline", "experiments/experiment", "runs/run", "runs/artifact"):
        page = client.get(f"/admin/{model}/")
        assert page.status_code == 200, model
        _assert_nothing_of_a(page, model)
    assert client.get(f"/admin/runs/run/{w['run'].pk}/change/").status_code == 302


# -- roles inside one project ---------------------------------------------------------------------


def _member(django_user_model, project: Project, role: str) -> Any:
    user = django_user_model.objects.create_user(f"{role}-user", password="pw-123456")
    Membership.objects.filter(user=user).delete()
    Membership.objects.create(project=project, user=user, role=role)
    return user


def test_a_viewer_reads_but_cannot_change(client, world, django_user_model):
    w = world
    viewer = _member(django_user_model, w["a"], "viewer")
    client.force_login(viewer)
    run_page = client.get(w["run"].get_absolute_url()).content.decode()
    assert f"{SECRET}-run" in run_page and "Terminate…" not in run_page  # no buttons to press
    assert reverse("pipelines:upload") not in client.get(reverse("pipelines:list")).content.decode()
    before = _snapshot(w)
    for url in (
        reverse("runs:terminate", args=[w["run"].pk]),
        reverse("runs:archive", args=[w["run"].pk]),
        reverse("experiments:archive", args=[w["experiment"].pk]),
        reverse("recurring:disable", args=[w["recurring"].pk]),
        reverse("pipelines:upload"),
        reverse("projects:members", args=[w["a"].pk]),
    ):
        response = client.post(url, {"username": "bob", "role": "owner"})
        assert response.status_code == 403, url
        assert b"role" in response.content, url  # the page says which role it needs
    assert _snapshot(w) == before
    # Bulk actions drop the runs the caller may not change.
    client.post(reverse("runs:archive_many"), {"runs": str(w["run"].pk)})
    assert _snapshot(w) == before


def test_an_editor_can_run(client, world, django_user_model):
    w = world
    editor = _member(django_user_model, w["a"], "editor")
    client.force_login(editor)
    run_page = client.get(w["run"].get_absolute_url()).content.decode()
    assert "Terminate…" in run_page and "Delete…" not in run_page
    assert reverse("pipelines:upload") in client.get(reverse("pipelines:list")).content.decode()
    response = client.post(
        reverse("runs:create"),
        {
            "pipeline": w["pipeline"].pk,
            "version": str(w["version"].pk),
            "experiment": w["experiment"].pk,
            "name": "editor's run",
            "run_type": "one_off",
            **{
                param_field_name(p["name"]): p.get("default") or "1"
                for p in w["version"].parameters
            },
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    run = Run.objects.get(name="editor's run")
    assert run.experiment_id == w["experiment"].pk
    Run.objects.filter(pk=run.pk).update(state=RunState.SUCCEEDED)  # an active run stays
    client.post(reverse("runs:archive", args=[run.pk]))
    assert Run.objects.get(pk=run.pk).archived_at is not None
    # Deleting is an owner's.
    assert client.post(reverse("runs:delete", args=[run.pk])).status_code == 403
    # The members page is an owner's too.
    response = client.post(
        reverse("projects:members", args=[w["a"].pk]), {"username": "bob", "role": "viewer"}
    )
    assert response.status_code == 403


def test_an_owner_manages_members_and_keeps_the_last_owner(client, world):
    w = world
    client.force_login(w["owner_a"])
    url = reverse("projects:members", args=[w["a"].pk])
    response = client.post(url, {"username": "bob", "role": "viewer"})
    assert response.status_code == 302
    bob = Membership.objects.get(project=w["a"], user=w["bob"])
    assert bob.role == "viewer"
    client.post(reverse("projects:member", args=[w["a"].pk, bob.pk]), {"role": "editor"})
    assert Membership.objects.get(pk=bob.pk).role == "editor"
    client.post(reverse("projects:member", args=[w["a"].pk, bob.pk]), {"remove": "1"})
    assert not Membership.objects.filter(pk=bob.pk).exists()
    own = w["membership"]
    page = client.post(
        reverse("projects:member", args=[w["a"].pk, own.pk]), {"role": "viewer"}, follow=True
    )
    assert "keeps at least one owner" in page.content.decode()
    assert Membership.objects.get(pk=own.pk).role == "owner"
    client.post(reverse("projects:member", args=[w["a"].pk, own.pk]), {"remove": "1"})
    assert Membership.objects.filter(pk=own.pk).exists()


def test_the_switcher_changes_what_the_lists_show(client, world):
    w = world
    Membership.objects.create(project=w["a"], user=w["bob"], role="viewer")
    client.force_login(w["bob"])
    page = client.get(reverse("pipelines:list")).content.decode()
    assert "b-pipeline" in page and SECRET not in page.split('id="project-switch"')[-1][300:]
    response = client.post(reverse("projects:switch"), {"project": w["a"].pk, "next": "/runs/"})
    assert response.status_code == 302 and response["Location"] == "/runs/"
    names = [p.name for p in client.get(reverse("pipelines:list")).context["page"]]
    assert names == [f"{SECRET}-pipeline"]
    # From an object's page, the switch lands on its section's list (the page is the other
    # project's, and would make that project the current one again).
    response = client.post(
        reverse("projects:switch"), {"project": w["b"].pk, "next": w["run"].get_absolute_url()}
    )
    assert response["Location"] == reverse("runs:list")
    # A project one is not a member of cannot be chosen.
    other = Project.objects.create(name="Other", slug="other")
    assert client.post(reverse("projects:switch"), {"project": other.pk}).status_code == 404


def test_an_objects_page_makes_its_project_the_current_one(client, world):
    w = world
    Membership.objects.create(project=w["a"], user=w["bob"], role="editor")
    client.force_login(w["bob"])
    client.post(reverse("projects:switch"), {"project": w["b"].pk})
    client.get(w["run"].get_absolute_url())
    # The upload page (and every list) now goes on in A, the run's project.
    page = client.get(reverse("pipelines:upload")).content.decode()
    assert f"{SECRET}-pipeline" in page
    assert [r.name for r in client.get(reverse("runs:list")).context["listing"].runs] == [
        f"{SECRET}-run"
    ]


def test_the_demo_lands_in_a_demo_project(django_user_model):
    from django.core.management import call_command

    call_command("load_demo", stdout=io.StringIO())
    demo = Project.objects.get(slug="demo")
    assert set(Pipeline.objects.filter(project=demo).values_list("name", flat=True)) == {
        "Customer churn",
        "Failing step",
    }
    assert Experiment.objects.get(name="Demo").project == demo
    assert Membership.objects.get(project=demo, user__username="admin").role == "owner"
    call_command("load_demo", stdout=io.StringIO())  # idempotent
    assert Pipeline.objects.filter(project=demo).count() == 2
