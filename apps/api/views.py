"""The API tokens settings page: create (the token is shown once), list, revoke."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from apps.api.forms import TokenForm
from apps.api.models import ApiToken
from apps.api.tokens import TokenError, issue_token, revoke_token
from apps.projects import scope
from ydpipelines.htmx import HtmxHttpRequest


def _tokens(request: HttpRequest) -> list[ApiToken]:
    return list(
        ApiToken.objects.filter(user=request.user)
        .select_related("project")
        .order_by("revoked_at", "-created_at")
    )


@require_http_methods(["GET", "POST"])
def token_list(request: HtmxHttpRequest) -> HttpResponse:
    """GET: the page. POST: create a token; the answer shows it once (the HTMX answer is the
    page's tokens part)."""
    created = None
    if request.method == "POST":
        form = TokenForm(request.POST, projects=scope.projects(request))
        if form.is_valid():
            try:
                _token, created = issue_token(
                    request.user,
                    name=form.cleaned_data["name"],
                    role=form.cleaned_data["role"],
                    expires_at=form.expires_at(),
                    project_id=form.cleaned_data["project"],
                )
            except TokenError as exc:
                form.add_error(exc.field or None, str(exc))
            else:
                form = TokenForm(projects=scope.projects(request))
    else:
        form = TokenForm(projects=scope.projects(request))
    template = "api/tokens.html" + ("#tokens" if request.htmx else "")
    response = render(
        request,
        template,
        {"form": form, "tokens": _tokens(request), "created": created},
    )
    # The token's text must not linger in any cache.
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def token_revoke(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    revoke_token(token)
    if request.htmx:
        return render(
            request,
            "api/tokens.html#tokens",
            {
                "form": TokenForm(projects=scope.projects(request)),
                "tokens": _tokens(request),
                "created": None,
            },
        )
    return redirect("settings:tokens")
