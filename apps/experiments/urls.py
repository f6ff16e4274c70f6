"""URLs of the experiments app (filled in by its views)."""

app_name = "experiments"
urlpatterns: list = []
