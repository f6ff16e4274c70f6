"""URLs of the runs app (filled in by its views)."""

app_name = "runs"
urlpatterns: list = []
