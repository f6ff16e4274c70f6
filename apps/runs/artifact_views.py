"""Serving stored artifacts. They are untrusted: whatever a step wrote is served with a CSP that
sandboxes it (no scripts, no same-origin, no network) and without content sniffing, and only
the run page's own iframe may frame it."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from apps.projects import scope
from apps.runs.constants import ArtifactKind
from apps.runs.models import Artifact

ARTIFACT_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
# Media types a browser may render inline from an artifact; anything else is a download.
INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml"})


def protect(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = ARTIFACT_CSP + "; frame-ancestors 'self'"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _artifact(request: HttpRequest, run_id: Any, artifact_id: int) -> Artifact:
    artifact = scope.get_visible(
        request, Artifact.objects.all(), "run__experiment__project", pk=artifact_id, run_id=run_id
    )
    if not artifact.file:
        raise Http404("This artifact has no stored file.")
    return artifact


def inline_media_type(artifact: Artifact) -> str | None:
    """The Content-Type to show the artifact in the page with, or None for download only."""
    media = (artifact.media_type or "").split(";")[0].strip().lower()
    if artifact.kind == ArtifactKind.HTML or media == "text/html":
        return "text/html; charset=utf-8"
    if media in INLINE_IMAGES:
        return media
    if media.startswith("text/") or media in ("application/json", "application/x-ipynb+json"):
        return "text/plain; charset=utf-8"
    return None


def _open(artifact: Artifact):
    try:
        return artifact.file.open("rb")
    except OSError as error:
        raise Http404("The artifact's file is missing from storage.") from error


@require_GET
@xframe_options_sameorigin
def artifact_view(request: HttpRequest, pk: Any, artifact_id: int) -> HttpResponse:
    artifact = _artifact(request, pk, artifact_id)
    media = inline_media_type(artifact)
    if media is None:
        return artifact_download(request, pk, artifact_id)
    response = FileResponse(_open(artifact), content_type=media)
    response["Content-Disposition"] = "inline"
    return protect(response)


@require_GET
def artifact_download(request: HttpRequest, pk: Any, artifact_id: int) -> HttpResponse:
    artifact = _artifact(request, pk, artifact_id)
    filename = artifact.file.name.rsplit("/", 1)[-1] or artifact.name
    response = FileResponse(
        _open(artifact),
        as_attachment=True,
        filename=filename,
        content_type=artifact.media_type or "application/octet-stream",
    )
    return protect(response)
