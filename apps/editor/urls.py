from django.urls import path

from apps.editor import views

app_name = "editor"

urlpatterns = [
    path("", views.draft_list, name="list"),
    path("new/", views.draft_create, name="create"),
    path("from-version/<uuid:version_id>/", views.draft_from_version, name="from_version"),
    path("<uuid:pk>/", views.draft_edit, name="edit"),
    path("<uuid:pk>/delete/", views.draft_delete, name="delete"),
    path("<uuid:pk>/document/", views.document, name="document"),
    path("<uuid:pk>/properties/", views.properties, name="properties"),
    path("<uuid:pk>/files/", views.files, name="files"),
    path("<uuid:pk>/files/content/", views.file, name="file"),
    path("<uuid:pk>/files/rename/", views.rename, name="rename"),
    path("<uuid:pk>/files/delete/", views.delete_file, name="delete_file"),
    path("<uuid:pk>/save-version/", views.save_version, name="save_version"),
]
