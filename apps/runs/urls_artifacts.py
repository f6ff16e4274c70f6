"""URLs of artifacts (filled in by their views)."""

app_name = "artifacts"
urlpatterns: list = []
