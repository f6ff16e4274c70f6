"""URLs of recurring runs (filled in by their views)."""

app_name = "recurring"
urlpatterns: list = []
