"""URLs of the runs app."""

from django.urls import path

from apps.runs import archive_views, artifact_views, event_views, list_views, views

app_name = "runs"
urlpatterns = [
    path("", list_views.run_list, name="list"),
    path("new/", views.run_create, name="create"),
    path("events/", event_views.list_events, name="list_events"),
    path("<uuid:pk>/", views.run_detail, name="detail"),
    path("<uuid:pk>/status/", views.run_status, name="status"),
    path("<uuid:pk>/events/", event_views.run_events, name="events"),
    path("<uuid:pk>/graph/", views.run_graph_card, name="graph"),
    path("<uuid:pk>/terminate/", views.run_terminate, name="terminate"),
    path("<uuid:pk>/retry/", views.run_retry, name="retry"),
    path("<uuid:pk>/nodes/<str:key>/", views.node_panel, name="node"),
    path("<uuid:pk>/nodes/<str:key>/log/", views.node_log, name="node_log"),
    path("<uuid:pk>/artifacts/<int:artifact_id>/", artifact_views.artifact_view, name="artifact"),
    path(
        "<uuid:pk>/artifacts/<int:artifact_id>/download/",
        artifact_views.artifact_download,
        name="artifact_download",
    ),
    path("archive/", archive_views.runs_archive, name="archive_many"),
    path("restore/", archive_views.runs_restore, name="restore_many"),
    path("delete/", archive_views.runs_delete, name="delete_many"),
    path("<uuid:pk>/archive/", archive_views.run_archive, name="archive"),
    path("<uuid:pk>/restore/", archive_views.run_restore, name="restore"),
    path("<uuid:pk>/delete/", archive_views.run_delete, name="delete"),
]
