from django.urls import path

from apps.pipelines import views

app_name = "pipelines"

urlpatterns = [
    path("", views.pipeline_list, name="list"),
    path("<int:pk>/", views.pipeline_detail, name="detail"),
    path("<int:pk>/versions/<uuid:version_id>/", views.version_detail, name="version"),
]
