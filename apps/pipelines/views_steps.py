"""Downloads for running steps (signed bundle, step runner). No login: a pod has no session."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_safe

from apps.pipelines.bundles import check_bundle_signature
from apps.pipelines.models import PipelineVersion

STEPRUNNER = Path(settings.BASE_DIR) / "ydpipelines" / "steprunner.py"


@login_not_required
@require_safe
def bundle(request: HttpRequest, version_id: uuid.UUID, signature: str) -> FileResponse:
    # A wrong signature looks exactly like a missing version: no oracle for valid ids.
    if not check_bundle_signature(version_id, signature):
        raise Http404("No such bundle.")
    version = PipelineVersion.objects.filter(pk=version_id).only("bundle").first()
    if version is None or not version.bundle:
        raise Http404("No such bundle.")
    try:
        handle = version.bundle.open("rb")
    except FileNotFoundError as exc:
        raise Http404("No such bundle.") from exc
    return FileResponse(
        handle, as_attachment=True, filename="bundle.zip", content_type="application/zip"
    )


@login_not_required
@require_safe
def steprunner(request: HttpRequest) -> FileResponse:
    if not STEPRUNNER.is_file():
        raise Http404("The step runner is not installed.")
    return FileResponse(STEPRUNNER.open("rb"), content_type="text/x-python; charset=utf-8")
