"""URLs of the Artifacts section: every artifact of every run, and one artifact's preview."""

from django.urls import path

from apps.runs import catalog_views

app_name = "artifacts"
urlpatterns = [
    path("", catalog_views.artifact_list, name="list"),
    path("<int:pk>/", catalog_views.artifact_detail, name="detail"),
]
