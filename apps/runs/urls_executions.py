"""URLs of executions (filled in by their views)."""

app_name = "executions"
urlpatterns: list = []
