"""URLs of compare (filled in by their views)."""

app_name = "compare"
urlpatterns: list = []
