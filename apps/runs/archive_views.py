"""Archive, restore and delete runs: one from its page, or many selected in a list.

GET shows a confirmation page (what JavaScript-less browsers and direct links get; the run page
opens the same form in a dialog); POST acts and goes back where the user came from (`next`, when it
is a path of this site). Every run the action leaves alone is reported with the reason."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from apps.projects import scope
from apps.projects.constants import Role
from apps.runs import archive
from apps.runs.models import RUN_PROJECT, Artifact, Run

PAST = {archive.ARCHIVE: "Archived", archive.RESTORE: "Restored", archive.DELETE: "Deleted"}
NOT_DONE = {
    archive.ARCHIVE: "Not archived",
    archive.RESTORE: "Not restored",
    archive.DELETE: "Not deleted",
}


def _next_url(request: HttpRequest, fallback: str) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return fallback


def _runs_phrase(runs: list[Run]) -> str:
    if len(runs) == 1:
        return f"“{runs[0].name}”"
    return f"{len(runs)} runs"


def report(request: HttpRequest, action: str, outcome: archive.Outcome) -> None:
    """Messages for the outcome: what was done, then each run left alone and why."""
    if outcome.done:
        text = f"{PAST[action]} {_runs_phrase(outcome.done)}"
        if action == archive.ARCHIVE:
            them = "it" if len(outcome.done) == 1 else "them"
            text += f". Find {them} in the Archived tab of Runs; Restore brings {them} back."
        elif action == archive.DELETE and outcome.files_removed:
            text += (
                f" and {outcome.files_removed} artifact file"
                f"{'s' if outcome.files_removed != 1 else ''} "
                f"({filesizeformat(outcome.bytes_removed)})."
            )
        else:
            text += "."
        messages.success(request, text)
    for run, reason in outcome.skipped:
        messages.warning(request, f"{NOT_DONE[action]}: “{run.name}” {reason}.")
    if outcome.missing:
        many = outcome.missing != 1
        messages.warning(
            request,
            f"{outcome.missing} selected run{'s' if many else ''} no longer exist"
            f"{'' if many else 's'}.",
        )
    if not outcome.done and not outcome.skipped and not outcome.missing:
        messages.info(request, "No runs were selected.")


def _confirm(
    request: HttpRequest, action: str, runs: list[Run], ids: list[Any], back: str
) -> HttpResponse:
    rows = [(run, archive.refusal(action, run)) for run in runs]
    eligible = [run for run, reason in rows if reason is None]
    files = {"count": 0, "size": 0}
    if action == archive.DELETE and eligible:
        files = (
            Artifact.objects.filter(run__in=eligible)
            .exclude(file="")
            .aggregate(count=Count("pk"), size=Sum("size"))
        )
    return render(
        request,
        "runs/archive_confirm.html",
        {
            "action": action,
            "rows": rows,
            "eligible": eligible,
            "missing": len(ids) - len(runs),
            "files": files,
            "back": back,
            "single": runs[0] if len(ids) == 1 and runs else None,
            "done_word": PAST[action].lower(),
        },
    )


def _act(
    request: HttpRequest, action: str, ids: list[Any], back: str, done_url: str
) -> HttpResponse:
    if request.method == "GET":
        runs = list(archive.selected_runs(ids))
        order = {run_id: index for index, run_id in enumerate(ids)}
        runs.sort(key=lambda run: order[run.pk])
        return _confirm(request, action, runs, ids, back)
    outcome = archive.SERVICES[action](ids)
    report(request, action, outcome)
    return redirect(_next_url(request, done_url))


# -- one run, from its page ---------------------------------------------------------------------


def _single(request: HttpRequest, pk: Any, action: str) -> HttpResponse:
    role = Role.OWNER if action == archive.DELETE else Role.EDITOR
    run = scope.get_visible(request, Run.objects.only("id"), RUN_PROJECT, role=role, pk=pk)
    after = reverse("runs:detail", args=[run.pk])
    if action == archive.DELETE:
        # The run page is gone after a delete: back to the archive it was deleted from.
        done = f"{reverse('runs:list')}?tab=archived"
        return _act(request, action, [run.pk], after, _next_url(request, done))
    return _act(request, action, [run.pk], after, after)


@require_http_methods(["GET", "POST"])
def run_archive(request: HttpRequest, pk: Any) -> HttpResponse:
    return _single(request, pk, archive.ARCHIVE)


@require_http_methods(["GET", "POST"])
def run_restore(request: HttpRequest, pk: Any) -> HttpResponse:
    return _single(request, pk, archive.RESTORE)


@require_http_methods(["GET", "POST"])
def run_delete(request: HttpRequest, pk: Any) -> HttpResponse:
    return _single(request, pk, archive.DELETE)


# -- many runs, selected in a list ---------------------------------------------------------------


def _bulk(request: HttpRequest, action: str) -> HttpResponse:
    data = request.POST if request.method == "POST" else request.GET
    tab = "" if action == archive.ARCHIVE else "?tab=archived"
    back = _next_url(request, f"{reverse('runs:list')}{tab}")
    try:
        ids = archive.parse_ids(data.getlist("runs"))
    except archive.SelectionError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    # Runs the caller may not change are dropped like unknown ids (their names stay hidden).
    role = Role.OWNER if action == archive.DELETE else Role.EDITOR
    allowed = set(
        scope.visible(request, Run.objects.filter(pk__in=ids), RUN_PROJECT, role).values_list(
            "pk", flat=True
        )
    )
    ids = [pk for pk in ids if pk in allowed]
    if not ids:
        messages.info(request, f"Select the runs to {action} first.")
        return redirect(back)
    return _act(request, action, ids, back, back)


@require_http_methods(["GET", "POST"])
def runs_archive(request: HttpRequest) -> HttpResponse:
    return _bulk(request, archive.ARCHIVE)


@require_http_methods(["GET", "POST"])
def runs_restore(request: HttpRequest) -> HttpResponse:
    return _bulk(request, archive.RESTORE)


@require_http_methods(["GET", "POST"])
def runs_delete(request: HttpRequest) -> HttpResponse:
    return _bulk(request, archive.DELETE)
