"""The editor's pages and the JSON calls its script (static/js/editor.js) makes.

Pages: the drafts list (with "start from files"), the editor. JSON: load/save the document
(a stale save answers 409), the files (upload, read, write, rename, delete) and "Save as version".
Like every page of the app, a login is needed (the middleware) and POSTs carry the CSRF token.
Drafts carry no per-user permission yet (nor do pipelines): whoever signs in may open one by its
address; the list shows the user's own.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from apps.editor import document as doclib
from apps.editor import services
from apps.editor.forms import NodeForm, PipelineForm
from apps.editor.models import Draft
from apps.pipelines import engine_check
from apps.pipelines.importers import PipelineImportError
from apps.pipelines.models import PipelineVersion
from apps.pipelines.uploads import too_large_message, upload_too_large
from apps.projects import scope
from apps.projects.constants import Role

TEXT_SUFFIXES = (".py", ".r", ".txt", ".md", ".csv", ".json", ".yaml", ".yml", ".ipynb", ".sh")


def _draft(request: HttpRequest, pk: Any) -> Draft:
    """The draft, in a project where the caller is an editor (else 404, or 403 for a viewer)."""
    return scope.get_visible(
        request,
        Draft.objects.select_related("pipeline", "base_version"),
        role=Role.EDITOR,
        pk=pk,
    )


def _current_project_id(request: HttpRequest) -> int:
    """The switcher's project, where the caller must be an editor to start a draft."""
    project = scope.current_project(request)
    scope.require_role(request, project.pk if project else None, Role.EDITOR)
    assert project is not None
    return project.pk


def _error(message: str, status: int = 400, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise services.DraftError("The request body is not JSON.") from None
    if not isinstance(body, dict):
        raise services.DraftError("The request body must be a JSON object.")
    return body


def _uploads(request: HttpRequest) -> list[tuple[str, bytes]]:
    """The uploaded files with their relative paths (a dropped folder sends them in `paths`,
    since Django keeps only the base name of an upload)."""
    files = request.FILES.getlist("files")
    paths = request.POST.getlist("paths")
    out = []
    for index, upload in enumerate(files):
        path = paths[index] if index < len(paths) and paths[index] else upload.name
        out.append((path or "", upload.read()))
    return out


# -- pages -------------------------------------------------------------------------------------


@require_GET
def draft_list(request: HttpRequest) -> HttpResponse:
    drafts = (
        scope.in_current(request, Draft.objects.filter(owner=request.user))
        .select_related("pipeline")
        .only("id", "name", "updated_at", "pipeline__name")
        .order_by("-updated_at")[:100]
    )
    return render(request, "editor/draft_list.html", {"drafts": list(drafts)})


@require_POST
def draft_create(request: HttpRequest) -> HttpResponse:
    """Start a draft from nothing, or from loose files (a folder, a zip, a .pipeline file)."""
    if upload_too_large(request):
        messages.error(request, f"The draft was not created: {too_large_message()}.")
        return redirect("editor:list")
    project_id = _current_project_id(request)
    name = request.POST.get("name", "")
    uploads = _uploads(request)
    try:
        if uploads:
            draft = services.create_from_files(
                owner=request.user, name=name, uploads=uploads, project_id=project_id
            )
        else:
            draft = services.create_blank(owner=request.user, name=name, project_id=project_id)
    except (services.DraftError, PipelineImportError) as error:
        messages.error(request, f"The draft was not created: {error}")
        return redirect("editor:list")
    return redirect(draft)


@require_POST
def draft_from_version(request: HttpRequest, version_id: Any) -> HttpResponse:
    version = scope.get_visible(
        request,
        PipelineVersion.objects.select_related("pipeline"),
        "pipeline__project",
        role=Role.EDITOR,
        pk=version_id,
    )
    try:
        draft = services.create_from_version(owner=request.user, version=version)
    except services.DraftError as error:
        messages.error(request, str(error))
        return redirect(version)
    return redirect(draft)


@require_POST
def draft_delete(request: HttpRequest, pk: Any) -> HttpResponse:
    draft = _draft(request, pk)
    if draft.owner_id != request.user.pk and not request.user.is_staff:
        messages.error(request, "Only the person who started a draft can delete it.")
        return redirect(draft)
    services.delete_draft(draft)
    messages.success(request, f"Deleted the draft “{draft.name}”.")
    return redirect("editor:list")


@require_GET
def draft_edit(request: HttpRequest, pk: Any) -> HttpResponse:
    draft = _draft(request, pk)
    result = services.check(draft)
    state = _state(draft, result)
    # The pipeline's properties, shown until a node is selected (then the script asks for its
    # form; see properties()).
    pipeline_form = PipelineForm(None, doc=state["document"])
    pipeline_form.place(result.general)
    return render(
        request,
        "editor/editor.html",
        {
            "draft": draft,
            "images": services.used_images(draft.project_id),
            "state": state,
            "run_url": reverse("runs:create"),
            "pipeline_form": pipeline_form,
            "node_count": len(state["document"]["nodes"]),
        },
    )


def _state(draft: Draft, result: services.Check | None = None) -> dict[str, Any]:
    """What the script starts from (and reloads after a 409)."""
    result = result or services.check(draft)
    return {
        "id": str(draft.pk),
        "revision": draft.revision,
        "document": doclib.clean_document(draft.document),
        "files": services.file_listing(draft),
        "check": _check_json(result),
        "pipeline": draft.pipeline.name if draft.pipeline else "",
        "urls": {
            "document": reverse("editor:document", args=[draft.pk]),
            "files": reverse("editor:files", args=[draft.pk]),
            "file": reverse("editor:file", args=[draft.pk]),
            "rename": reverse("editor:rename", args=[draft.pk]),
            "delete": reverse("editor:delete_file", args=[draft.pk]),
            "save_version": reverse("editor:save_version", args=[draft.pk]),
            "properties": reverse("editor:properties", args=[draft.pk]),
        },
    }


def _check_json(result: services.Check) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "message": result.message,
        "by_node": result.by_node,
        "general": result.general,
    }


# -- JSON calls --------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def document(request: HttpRequest, pk: Any) -> JsonResponse:
    """GET: the draft as stored. POST {"document", "revision"}: save it if still at that
    revision (else 409 with the current revision); the answer carries the importer's check."""
    draft = _draft(request, pk)
    if request.method == "GET":
        return JsonResponse(_state(draft))
    try:
        body = _json_body(request)
        revision = body.get("revision")
        if not isinstance(revision, int) or isinstance(revision, bool):
            return _error("Say which revision of the draft this edit started from.")
        new_revision = services.save_document(draft, body.get("document"), revision=revision)
    except services.StaleDraft as error:
        return _error(str(error), status=409, revision=error.revision)
    except (services.DraftError, doclib.DocumentError) as error:
        return _error(str(error))
    return JsonResponse({"revision": new_revision, "check": _check_json(services.check(draft))})


@require_POST
def properties(request: HttpRequest, pk: Any) -> HttpResponse:
    """The properties form of a node (`node`: its id) or of the pipeline (no `node`), for the
    document the page holds (`document`: JSON; it may be ahead of the stored draft).

    With `edit`, the form's fields are posted too: the answer is the form as edited, with the
    importer's messages on its fields, and an `ydp:properties` event carrying the values the
    page's document takes (the page keeps the graph and saves it; see static/js/editor.js). An
    edit typed in a field answers only the parts that change (out of band: the title, the
    messages, each field's errors, the files a dependency matches), so the field being typed in
    is left alone; `add` / `remove` (a row of a list) answer the whole form."""
    draft = _draft(request, pk)
    try:
        raw = json.loads(request.POST.get("document") or "null")
        doc = doclib.clean_document(raw)
    except ValueError as error:  # DocumentError is one
        return HttpResponse(f"The page's pipeline document is unreadable: {error}", status=400)
    paths = list(draft.files.order_by("path").values_list("path", flat=True))
    node_id = request.POST.get("node", "")
    editing = request.POST.get("edit") == "1"
    data = request.POST if editing else None
    values: dict[str, Any] = {}
    form: NodeForm | PipelineForm
    node = doclib.find_node(doc, node_id) if node_id else None
    if node_id and node is None:
        return HttpResponse("This node is no longer in the pipeline.", status=404)
    try:
        if node is not None:
            form = NodeForm(data, node=node, doc=doc, paths=paths)
            if editing:
                values = form.values()
                doc = doclib.with_node_properties(doc, node_id, values)
                form.node = doclib.find_node(doc, node_id) or node
            template = "editor/_node_form.html"
        else:
            form = PipelineForm(data, doc=doc)
            if editing:
                values = form.values()
                doc = doclib.with_pipeline_properties(doc, values)
                form.doc = doc
            template = "editor/_pipeline_form.html"
    except doclib.DocumentError as error:  # e.g. a value over the document's length limit
        return HttpResponse(str(error), status=400)
    result = services.check_document(doc, paths)
    form.place(result.by_node.get(node_id, []) if node_id else result.general)
    whole = not editing or bool(request.POST.get("add") or request.POST.get("remove"))
    response = render(
        request,
        template + ("#form" if whole else "#changes"),
        {"form": form, "draft": draft, "doc": doc, "node_count": len(doc["nodes"])},
    )
    if editing:
        trigger_client_event(
            response,
            "ydp:properties",
            {"node": node_id, "values": values, "check": _check_json(result)},
        )
    return response


@require_POST
def files(request: HttpRequest, pk: Any) -> JsonResponse:
    """Upload files (multipart `files`, with their relative `paths`)."""
    draft = _draft(request, pk)
    if upload_too_large(request):
        return _error(f"Not added: {too_large_message()}.", status=413)
    try:
        added = services.add_files(draft, _uploads(request))
    except services.DraftError as error:
        return _error(str(error))
    return JsonResponse(
        {"added": added, "files": services.file_listing(draft), "check": _check(draft)}
    )


def _check(draft: Draft) -> dict[str, Any]:
    return _check_json(services.check(draft))


@require_http_methods(["GET", "POST"])
def file(request: HttpRequest, pk: Any) -> HttpResponse:
    """GET ?path=: a file's text (for the code editor and the notebook view). POST
    {"path", "text"}: replace it."""
    draft = _draft(request, pk)
    try:
        if request.method == "GET":
            path = request.GET.get("path", "")
            if not path.lower().endswith(TEXT_SUFFIXES):
                return _error(f"{path} is not a text file the editor shows.")
            data = services.read_file(draft, path)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                return _error(f"{path} is not UTF-8 text.")
            return JsonResponse({"path": path, "text": text})
        body = _json_body(request)
        text = body.get("text")
        if not isinstance(text, str):
            return _error("Send the file's text.")
        row = services.write_file(draft, str(body.get("path") or ""), text)
    except services.DraftError as error:
        return _error(str(error))
    return JsonResponse({"path": row.path, "size": row.size, "files": services.file_listing(draft)})


@require_POST
def rename(request: HttpRequest, pk: Any) -> JsonResponse:
    draft = _draft(request, pk)
    try:
        body = _json_body(request)
        new = services.rename_file(draft, str(body.get("old") or ""), str(body.get("new") or ""))
    except services.DraftError as error:
        return _error(str(error))
    return JsonResponse({"path": new, "files": services.file_listing(draft)})


@require_POST
def delete_file(request: HttpRequest, pk: Any) -> JsonResponse:
    draft = _draft(request, pk)
    try:
        services.delete_file(draft, str(_json_body(request).get("path") or ""))
    except services.DraftError as error:
        return _error(str(error))
    return JsonResponse({"files": services.file_listing(draft), "check": _check(draft)})


@require_POST
def save_version(request: HttpRequest, pk: Any) -> JsonResponse:
    """{"version_name", "description", "run"}: make the version; answers where to go next (the
    version page, or the run form with the version chosen)."""
    draft = _draft(request, pk)
    try:
        body = _json_body(request)
        version = services.save_as_version(
            draft,
            user=request.user,
            version_name=str(body.get("version_name") or ""),
            description=str(body.get("description") or ""),
        )
    except (services.DraftError, PipelineImportError) as error:
        return _error(str(error), check=_check(draft))
    engine_check.check_version(version)
    messages.success(
        request,
        f"Saved “{version.pipeline.name}” version “{version.name}” from the editor.",
    )
    url = version.get_absolute_url()
    if body.get("run"):
        url = f"{reverse('runs:create')}?version={version.pk}&pipeline={version.pipeline_id}"
    return JsonResponse({"url": url, "version": str(version.pk), "name": version.name})
