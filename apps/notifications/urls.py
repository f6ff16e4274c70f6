from django.urls import path

from apps.notifications import views

app_name = "notifications"

urlpatterns = [
    path("<str:kind>/<str:pk>/", views.section, name="section"),
    path("<str:kind>/<str:pk>/<int:sub_pk>/remove/", views.remove, name="remove"),
]
