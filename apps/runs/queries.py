"""Read-side helpers of the run pages: list querysets, graph phases, a task's template."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from apps.runs.constants import STEP_FINAL_PHASES, StepPhase
from apps.runs.models import Run, Step

# What a run row of a list shows; parameters, messages and sync bookkeeping stay behind.
RUN_LIST_FIELDS = (
    "id",
    "name",
    "state",
    "created_at",
    "started_at",
    "finished_at",
    "archived_at",
    "progress_done",
    "progress_total",
    "experiment__id",
    "experiment__name",
    "pipeline_version__id",
    "pipeline_version__name",
    "pipeline_version__pipeline__id",
    "pipeline_version__pipeline__name",
)
# How long after a run's end the page keeps polling for the outputs the worker is still copying.
OUTPUTS_GRACE = timedelta(minutes=2)
# A run whose status Argo has not confirmed for this long is shown as possibly stale.
STALE_AFTER = timedelta(seconds=30)
_ATTEMPT = re.compile(r"^(?P<key>.+)\((?P<n>\d+)\)$")


def run_list_queryset() -> QuerySet[Run]:
    """Runs with their experiment, version and pipeline joined in: one query a page."""
    return (
        Run.objects.select_related("experiment", "pipeline_version__pipeline")
        .only(*RUN_LIST_FIELDS)
        .order_by("-created_at", "-pk")
    )


def run_detail_queryset() -> QuerySet[Run]:
    return Run.objects.select_related(
        "experiment", "pipeline_version__pipeline", "created_by", "cloned_from", "recurring_run"
    )


def _rank(step: Step, keys: set[str]) -> tuple[str, tuple[int, int, int]] | None:
    """Which graph node a Step row stands for, and how good a representative it is (lower is
    better): the node named exactly as the task (a Pod, or the Retry node over its attempts)
    beats an attempt `task(N)`; nearer the top of the workflow beats nested; a later attempt
    beats an earlier one."""
    depth = step.name.count(".")
    if step.display_name in keys:
        return step.display_name, (0, depth, 0)
    match = _ATTEMPT.match(step.display_name)
    if match and match.group("key") in keys:
        return match.group("key"), (1, depth, -int(match.group("n")))
    return None


def best_steps(steps: Iterable[Step], keys: Iterable[str]) -> dict[str, Step]:
    """For each graph node key, the Step row that best shows its state."""
    wanted = set(keys)
    best: dict[str, tuple[tuple[int, int, int], Step]] = {}
    for step in steps:
        ranked = _rank(step, wanted)
        if ranked is None:
            continue
        key, rank = ranked
        if key not in best or rank < best[key][0]:
            best[key] = (rank, step)
    return {key: step for key, (_, step) in best.items()}


def node_phases(run: Run, steps: Iterable[Step], keys: list[str]) -> dict[str, str]:
    """Graph key -> phase. Nodes without a Step are Pending while the run is active, and
    Omitted ("not run") once it is over."""
    chosen = best_steps(steps, keys)
    phases: dict[str, str] = {}
    for key in keys:
        step = chosen.get(key)
        if step is not None:
            phases[key] = step.phase
        else:
            phases[key] = StepPhase.OMITTED if run.is_finished else StepPhase.PENDING
    return phases


def phase_steps_queryset(run: Run) -> QuerySet[Step]:
    """The few columns the graph needs: no logs, inputs or outputs."""
    return Step.objects.filter(run=run).only(
        "id",
        "run_id",
        "node_id",
        "name",
        "display_name",
        "node_type",
        "phase",
        "started_at",
        "finished_at",
        "exit_code",
        "message",
        "artifacts_fetched",
    )


def outputs_pending(run: Run, steps: Iterable[Step]) -> bool:
    """True while a finished step's log and artifacts are still being copied (shortly after the
    run's end), so that the page keeps polling until they are in."""
    if run.finished_at and timezone.now() - run.finished_at > OUTPUTS_GRACE:
        return False
    return any(
        step.node_type == "Pod" and step.phase in STEP_FINAL_PHASES and not step.artifacts_fetched
        for step in steps
    )


@dataclass
class Staleness:
    since: Any  # datetime | None
    reason: str


def staleness(run: Run) -> Staleness | None:
    """Why the page may not show the run's true state, if it may not."""
    if run.sync_error:
        return Staleness(run.last_synced_at or run.submitted_at or run.created_at, run.sync_error)
    if not run.is_active or run.submitted_at is None:
        return None
    last = run.last_synced_at or run.submitted_at
    if timezone.now() - last > STALE_AFTER:
        return Staleness(last, "Argo has not reported on this run since then.")
    return None


def _workflow_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    spec = manifest.get("spec") or {}
    if manifest.get("kind") == "CronWorkflow":
        spec = spec.get("workflowSpec") or {}
    return spec if isinstance(spec, dict) else {}


@dataclass
class TaskConfig:
    task: dict[str, Any]
    template: dict[str, Any]

    @property
    def container(self) -> dict[str, Any]:
        return self.template.get("container") or self.template.get("script") or {}


def task_config(manifest: dict[str, Any], key: str) -> TaskConfig | None:
    """The DAG task (or step) named `key` in the manifest's entrypoint, and its template."""
    spec = _workflow_spec(manifest)
    templates = {t.get("name"): t for t in spec.get("templates") or [] if isinstance(t, dict)}
    entry = templates.get(spec.get("entrypoint")) or {}
    calls: list[dict[str, Any]] = []
    if "dag" in entry:
        calls = [t for t in (entry.get("dag") or {}).get("tasks") or [] if isinstance(t, dict)]
    elif "steps" in entry:
        for group in entry.get("steps") or []:
            calls.extend(s for s in (group if isinstance(group, list) else [group]) if s)
    for call in calls:
        if call.get("name") == key:
            name = call.get("template") or (call.get("templateRef") or {}).get("template")
            return TaskConfig(task=call, template=templates.get(name) or {})
    if key == "onExit" and spec.get("onExit") in templates:
        return TaskConfig(task={"name": key}, template=templates[spec["onExit"]])
    if entry and not calls and entry.get("name") == key:
        return TaskConfig(task={"name": key}, template=entry)
    return None
