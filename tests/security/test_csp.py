"""Every response of the app carries a Content-Security-Policy whose scripts come from the app's
own files only; the sandboxed artifact views keep their stricter policy."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from apps.runs.artifact_views import ARTIFACT_CSP
from apps.runs.constants import ArtifactKind, StepPhase
from tests.experiments.builders import make_experiment, make_run, make_step, make_version
from tests.runs.test_catalog_filters import add_artifact
from ydpipelines.csp import POLICY

pytestmark = pytest.mark.django_db
_REGEX_META = re.compile(r"[\\\[\](){}*+?|.]")


def _literal(part: str) -> str | None:
    """The path a URL pattern piece matches when it takes no argument, else None."""
    text = part.removeprefix("^").removesuffix("$").removesuffix(r"\Z")
    if "<" in text or _REGEX_META.search(text):
        return None
    return text


def argument_free_paths() -> list[str]:
    found: list[str] = []

    def walk(patterns: list, prefix: str) -> None:
        for entry in patterns:
            part = _literal(str(entry.pattern))
            if part is None or entry.pattern.regex.groups:
                continue
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + part)
            elif isinstance(entry, URLPattern):
                found.append("/" + prefix + part)

    walk(get_resolver().url_patterns, "")
    return sorted(set(found))


def script_src(policy: str) -> str:
    directives = {}
    for directive in filter(None, (d.strip() for d in policy.split(";"))):
        name, _, value = directive.partition(" ")
        directives[name] = value
    return directives.get("script-src", directives.get("default-src", ""))


def assert_app_policy(response, path: str) -> None:
    policy = response.get("Content-Security-Policy", "")
    assert policy, f"{path} ({response.status_code}) has no Content-Security-Policy"
    scripts = script_src(policy)
    assert scripts == "'self'", f"{path}: script-src {scripts!r}"
    for directive in ("object-src 'none'", "base-uri 'self'", "form-action 'self'"):
        assert directive in policy, f"{path}: no {directive}"
    assert "frame-ancestors" in policy


def test_the_walk_finds_the_sections():
    paths = argument_free_paths()
    for expected in ("/pipelines/", "/runs/", "/experiments/", "/artifacts/", "/admin/"):
        assert expected in paths
    assert len(paths) > 25  # the admin's lists are in it too


def test_every_argument_free_page_has_the_policy(admin_client, client):
    for path in argument_free_paths():
        assert_app_policy(admin_client.get(path), path)
    # Signed out too: the login page and the redirects to it.
    for path in ("/accounts/login/", "/runs/"):
        assert_app_policy(client.get(path), path)


def test_object_pages_have_the_policy(admin_client):
    version = make_version()
    experiment = make_experiment()
    run = make_run(version, experiment, state="Succeeded")
    step = make_step(run, "train", StepPhase.SUCCEEDED, log="\x1b[31mred\x1b[0m")
    paths = [
        reverse("pipelines:detail", args=[version.pipeline.pk]),
        reverse("pipelines:version", args=[version.pipeline.pk, version.pk]),
        reverse("experiments:detail", args=[experiment.pk]),
        run.get_absolute_url(),
        run.get_absolute_url() + "?node=train&panel=logs",
        reverse("runs:node", args=[run.pk, "train"]) + "?panel=logs",
        reverse("admin:runs_step_change", args=[step.pk]),
    ]
    for path in paths:
        response = admin_client.get(path, headers={"HX-Request": "true"} if "nodes" in path else {})
        assert response.status_code == 200, path
        assert_app_policy(response, path)


def test_a_views_own_policy_is_kept(admin_client):
    run = make_run(make_version(), make_experiment(), state="Succeeded")
    step = make_step(run, "train", StepPhase.SUCCEEDED)
    report = add_artifact(run, step, "report", ArtifactKind.HTML, b"<p>hi</p>", "text/html")
    response = admin_client.get(reverse("runs:artifact", args=[run.pk, report.pk]))
    assert response["Content-Security-Policy"].startswith(ARTIFACT_CSP)
    assert response["Content-Security-Policy"] != POLICY
