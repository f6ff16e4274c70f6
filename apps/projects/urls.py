from django.urls import path

from apps.projects import views

app_name = "projects"

urlpatterns = [
    path("new/", views.project_create, name="create"),
    path("switch/", views.switch, name="switch"),
    path("<int:project_id>/members/", views.members, name="members"),
    path("<int:project_id>/members/<int:membership_id>/", views.member_change, name="member"),
]
