"""URLs of the experiments app."""

from django.urls import path

from apps.experiments import views

app_name = "experiments"
urlpatterns = [
    path("", views.experiment_list, name="list"),
    path("new/", views.experiment_create, name="create"),
    path("<int:pk>/", views.experiment_detail, name="detail"),
    path("<int:pk>/archive/", views.experiment_archive, name="archive"),
    path("<int:pk>/restore/", views.experiment_restore, name="restore"),
    path("<int:pk>/delete/", views.experiment_delete, name="delete"),
]
