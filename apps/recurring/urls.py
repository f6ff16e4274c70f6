"""URLs of recurring runs (/runs/recurring/)."""

from django.urls import path

from apps.recurring import views

app_name = "recurring"
urlpatterns = [
    path("", views.recurring_list, name="list"),
    path("new/", views.recurring_create, name="create"),
    path("preview/", views.recurring_preview, name="preview"),
    path("<uuid:pk>/", views.recurring_detail, name="detail"),
    path("<uuid:pk>/edit/", views.recurring_edit, name="edit"),
    path("<uuid:pk>/enable/", views.recurring_enable, name="enable"),
    path("<uuid:pk>/disable/", views.recurring_disable, name="disable"),
    path("<uuid:pk>/run-now/", views.recurring_run_now, name="run_now"),
    path("<uuid:pk>/delete/", views.recurring_delete, name="delete"),
]
