from django.urls import path

from apps.pipelines import views

app_name = "pipelines"

urlpatterns = [
    path("", views.pipeline_list, name="list"),
    path("upload/", views.upload, name="upload"),
    path("<int:pk>/", views.pipeline_detail, name="detail"),
    path("<int:pk>/versions/<uuid:version_id>/", views.version_detail, name="version"),
    path(
        "<int:pk>/versions/<uuid:version_id>/workflow.yaml",
        views.version_yaml,
        name="version_yaml",
    ),
    path(
        "<int:pk>/versions/<uuid:version_id>/bundle.zip",
        views.version_bundle,
        name="version_bundle",
    ),
]
