"""The REST API under /api/v1/: a second face on the services the pages use (no rule lives
only here). django-ninja: pydantic schemas, and the OpenAPI 3 document from the signatures at
/api/v1/openapi.json; the docs page (/api/v1/docs) is Swagger UI from ninja's own static files."""

from __future__ import annotations

from ninja import NinjaAPI

from apps.api import errors
from apps.api.experiments_api import router as experiments
from apps.api.pipelines_api import router as pipelines
from apps.api.projects_api import router as projects
from apps.api.recurring_api import router as recurring
from apps.api.runs_api import router as runs

api = NinjaAPI(
    title="ydpipelines API",
    version="1",
    description="Upload pipelines, start and watch runs, read logs, metrics and artifacts. "
    "Authenticate with a personal access token: `Authorization: Bearer ydp_…`.",
    urls_namespace="api",
)
errors.install(api)
api.add_router("", projects)
api.add_router("", pipelines)
api.add_router("", experiments)
api.add_router("", runs)
api.add_router("", recurring)
