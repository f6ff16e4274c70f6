"""URLs of the Executions section: every step (Argo node) of every run."""

from django.urls import path

from apps.runs import catalog_views

app_name = "executions"
urlpatterns = [
    path("", catalog_views.execution_list, name="list"),
]
