"""Would the configured Argo run this version? Asked at upload and on the version page.

The embedded engine refuses what it cannot run (HTTP 400 `unsupported: <field path>`) instead
of accepting and ignoring it; telling the user at upload beats a run that fails at submit. The
check never blocks an upload: when Argo cannot be reached it is recorded as not made, and the
version page asks again (at most once per RECHECK_AFTER), or when another server is configured.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.orchestration.argo import ArgoError, get_client
from apps.pipelines.models import EngineCheck, PipelineVersion

LINT_TIMEOUT = 5.0  # seconds: an upload or a page view must not wait long for Argo
RECHECK_AFTER = timedelta(seconds=60)
_ARGO_WORDS = re.compile(r"^Argo: (?P<detail>.*) \(HTTP \d+\)$", re.S)


def _workflow(manifest: dict[str, Any]) -> dict[str, Any]:
    """The Workflow that a run (or a CronWorkflow's next run) of the manifest submits."""
    if manifest.get("kind") == "CronWorkflow":
        spec = (manifest.get("spec") or {}).get("workflowSpec") or {}
        return {"metadata": {"generateName": "lint-"}, "spec": spec}
    return manifest


def check_version(version: PipelineVersion) -> EngineCheck:
    """Lint the version's manifest against the configured Argo and store the outcome."""
    client = get_client()
    client.config = replace(client.config, timeout=LINT_TIMEOUT)
    try:
        client.lint_workflow(_workflow(version.manifest))
    except ArgoError as exc:
        refused = exc.status is not None and not exc.transient
        match = _ARGO_WORDS.match(str(exc))
        outcome = EngineCheck.Outcome.REFUSED if refused else EngineCheck.Outcome.UNCHECKED
        message = match.group("detail") if match else str(exc)
    else:
        outcome, message = EngineCheck.Outcome.OK, ""
    check, _ = EngineCheck.objects.update_or_create(
        version=version,
        defaults={
            "server": settings.ARGO_SERVER,
            "outcome": outcome,
            "message": message[:2000],
            "checked_at": timezone.now(),
        },
    )
    return check


def current_check(version: PipelineVersion) -> EngineCheck:
    """The stored check, redone when there is none, when it could not be made a while ago,
    or when it was made against another Argo than the configured one."""
    try:
        check: EngineCheck | None = version.engine_check  # select_related by the page
    except EngineCheck.DoesNotExist:
        check = None
    if (
        check is None
        or check.server != settings.ARGO_SERVER
        or (
            check.outcome == EngineCheck.Outcome.UNCHECKED
            and timezone.now() - check.checked_at > RECHECK_AFTER
        )
    ):
        check = check_version(version)
    return check


def engine_name() -> str:
    return "The embedded engine" if settings.ARGO_EMBEDDED else "The configured Argo server"
