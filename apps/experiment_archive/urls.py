"""The experiments URLs (/experiments/…), put together here at the top because their views come
from three apps: the list and the create form (apps.experiments), an experiment's page, which is
a runs list (apps.runs), and archive / restore / delete, which take its runs and recurring runs
along (this app)."""

from django.urls import path

from apps.experiment_archive import views as archive_views
from apps.experiments import views
from apps.runs import experiment_views

app_name = "experiments"
urlpatterns = [
    path("", views.experiment_list, name="list"),
    path("new/", views.experiment_create, name="create"),
    path("<int:pk>/", experiment_views.experiment_detail, name="detail"),
    path("<int:pk>/archive/", archive_views.experiment_archive, name="archive"),
    path("<int:pk>/restore/", archive_views.experiment_restore, name="restore"),
    path("<int:pk>/delete/", archive_views.experiment_delete, name="delete"),
]
