from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from ydpipelines import health


@login_not_required
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """The icon pages link (templates/_favicon.html), for what asks /favicon.ico blindly: a
    browser on a page that names none (a raw file, JSON), feed readers, bookmarks."""
    return HttpResponseRedirect(static("img/favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon),
    path("", RedirectView.as_view(pattern_name="pipelines:list", permanent=False), name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("apps.api.urls")),
    path("settings/", include("apps.api.urls_settings")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("projects/", include("apps.projects.urls")),
    path("pipelines/", include("apps.pipelines.urls")),
    path("editor/", include("apps.editor.urls")),
    path("experiments/", include("apps.experiment_archive.urls")),
    path("runs/recurring/", include("apps.recurring.urls")),
    path("runs/compare/", include("apps.compare.urls")),
    path("notifications/", include("apps.notifications.urls")),
    path("artifacts/", include("apps.runs.urls_artifacts")),
    path("executions/", include("apps.runs.urls_executions")),
    path("runs/", include("apps.runs.urls")),
    # Signed downloads for running steps (bundle, step runner): no session, see bundles.py.
    path("steps/", include("apps.pipelines.urls_steps")),
]
# MEDIA_ROOT is never served raw, in any mode: what steps and uploads wrote would run as script
# on the app's origin. Stored files go out only through views that sandbox them
# (apps/runs/artifact_views.py) or force a download (the version bundle).
