"""URLs a running step fetches: no session, see apps.pipelines.bundles."""

from django.urls import path

from apps.pipelines import views_steps

app_name = "steps"
urlpatterns = [
    path(
        "bundles/<uuid:version_id>/<str:signature>/bundle.zip",
        views_steps.bundle,
        name="bundle",
    ),
    path("steprunner.py", views_steps.steprunner, name="runner"),
]
