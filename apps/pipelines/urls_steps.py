"""URLs a running step fetches (CONTRACT STUB: the rendering helper fills it in)."""

app_name = "steps"
urlpatterns: list = []
