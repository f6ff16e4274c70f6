"""What the API reads and answers (pydantic, via django-ninja): one schema per shape."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import Field


class ErrorOut(Schema):
    message: str
    field: str = ""


class Ref(Schema):
    id: Any
    name: str


class PipelineOut(Schema):
    id: int
    name: str
    description: str
    created_at: datetime
    version_count: int = 0


class ParameterOut(Schema):
    name: str
    type: str = "String"
    default: Any = None
    description: str = ""


class VersionOut(Schema):
    id: uuid.UUID
    pipeline: Ref
    name: str
    description: str
    source_format: str
    source_filename: str
    parameters: list[dict[str, Any]]
    node_count: int
    content_hash: str
    created_at: datetime


class PipelineList(Schema):
    items: list[PipelineOut]
    count: int


class ExperimentIn(Schema):
    name: str = Field(max_length=200)
    description: str = ""
    project: str = Field("", description="The project (id or slug); see POST /pipelines.")


class ProjectOut(Schema):
    id: int
    name: str
    slug: str
    role: str = Field(description="viewer, editor or owner (a read token: viewer).")


class ExperimentOut(Schema):
    id: int
    name: str
    description: str
    created_at: datetime
    archived_at: datetime | None


class RunIn(Schema):
    version: str = Field(
        description="A version id, a pipeline name (its latest version), or pipeline:version."
    )
    experiment: str = Field(description="An experiment id or name.")
    parameters: dict[str, Any] = {}
    name: str = Field("", max_length=200)
    description: str = ""


class CloneIn(Schema):
    name: str = Field("", max_length=200)
    experiment: str | None = Field(None, description="Another experiment (id or name).")
    parameters: dict[str, Any] = Field({}, description="Values that replace the original's.")


class RunOut(Schema):
    id: uuid.UUID
    name: str
    description: str
    state: str
    message: str
    experiment: Ref
    pipeline: Ref
    version: Ref
    parameters: dict[str, Any]
    recurring_run_id: uuid.UUID | None
    cloned_from_id: uuid.UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    archived_at: datetime | None
    progress_done: int
    progress_total: int
    outputs_pending: bool = Field(
        description="True while a finished step's log, artifacts or metrics are still being "
        "copied into the app (just after the step's end): read them once it is false."
    )
    url: str


class RunRowOut(Schema):
    id: uuid.UUID
    name: str
    state: str
    experiment: Ref
    pipeline: Ref
    version: Ref
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    archived_at: datetime | None
    progress_done: int
    progress_total: int
    outputs_pending: bool = Field(
        description="True while a finished step's log, artifacts or metrics are still being "
        "copied into the app (just after the step's end): read them once it is false."
    )
    metrics: dict[str, float] = {}


class RunPageOut(Schema):
    items: list[RunRowOut]
    next_cursor: str | None = Field(None, description="Pass as `after` for the next page.")
    previous_cursor: str | None = Field(None, description="Pass as `before` for the previous.")


class ActionOut(Schema):
    message: str
    run: RunOut


class StepOut(Schema):
    id: int
    node_id: str
    name: str
    display_name: str
    template_name: str
    type: str
    phase: str
    message: str
    exit_code: int | None
    pod_name: str
    started_at: datetime | None
    finished_at: datetime | None


class ArtifactOut(Schema):
    id: int
    name: str
    kind: str
    step: str | None
    size: int
    media_type: str
    has_file: bool
    created_at: datetime


class MetricOut(Schema):
    name: str
    value: float
    format: str
    step: str | None


class MetricPointOut(Schema):
    step: int = Field(description="The step/epoch index the point was logged at.")
    value: float
    time: datetime | None = Field(description="When the step logged it, if it said.")


class MetricHistoryOut(Schema):
    name: str
    points: list[MetricPointOut] = Field(description="In step order; the last is the final value.")


class RecurringIn(Schema):
    name: str = Field(max_length=200)
    description: str = ""
    experiment: str = Field(description="An experiment id or name.")
    pipeline: str = Field(description="A pipeline id or name.")
    version: str | None = Field(
        None, description="A version id or name of the pipeline; none: always the latest."
    )
    trigger_type: str = Field("cron", description="cron or periodic")
    cron: str = ""
    interval_seconds: int | None = None
    timezone: str = "UTC"
    start_at: datetime | None = None
    end_at: datetime | None = None
    max_concurrency: int = Field(1, ge=1, le=10)
    catchup: bool = False
    enabled: bool = True
    parameters: dict[str, Any] = {}
    revision: int | None = Field(
        None, description="On update: the revision read; a changed one answers 409."
    )


class RecurringOut(Schema):
    id: uuid.UUID
    name: str
    description: str
    experiment: Ref
    pipeline: Ref
    version: Ref | None
    trigger_type: str
    cron: str
    interval_seconds: int | None
    timezone: str
    start_at: datetime | None
    end_at: datetime | None
    max_concurrency: int
    catchup: bool
    enabled: bool
    parameters: dict[str, Any]
    revision: int
    created_at: datetime
