"""URLs of compare."""

from django.urls import path

from apps.compare import views as compare_views

app_name = "compare"
urlpatterns = [
    path("", compare_views.compare_runs, name="compare"),
]
