"""Copy a finished step's log and output artifacts from Argo into the app's own storage.

Argo garbage-collects workflows, pods and their artifacts; the app keeps the history. Running it
twice is harmless: artifacts and metrics of a step are replaced as a whole, under a row lock.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.db import transaction

from apps.orchestration.argo import ArgoClient, ArgoError, ArgoNotFound
from apps.runs.ansi import strip_ansi
from apps.runs.constants import ArtifactKind
from apps.runs.metric_history import MAX_POINTS_PER_RUN, History, parse_history
from apps.runs.models import Artifact, Metric, MetricPoint, Run, Step
from apps.runs.visualizations import (
    OutputFormatError,
    Visualization,
    kind_for_filename,
    parse_metrics,
    parse_ui_metadata,
)

logger = logging.getLogger(__name__)

MAX_LOG_CHARS = 5_000_000
MAX_ARTIFACT_BYTES = 64 * 1024 * 1024
METRICS = "mlpipeline-metrics"
UI_METADATA = "mlpipeline-ui-metadata"
METRIC_HISTORY = "metric-history"
# Artifacts of our own step template whose kind we know without guessing.
KNOWN_ARTIFACTS = {
    "notebook-html": (ArtifactKind.HTML, "text/html; charset=utf-8", "notebook.html"),
    "notebook": (ArtifactKind.NOTEBOOK, "application/x-ipynb+json", "notebook.ipynb"),
    "outputs": (ArtifactKind.FILE, "application/gzip", "outputs.tgz"),
    METRICS: (ArtifactKind.METRICS, "application/json", "mlpipeline-metrics.json"),
    METRIC_HISTORY: (ArtifactKind.METRICS, "application/x-ndjson", "metric-history.jsonl"),
}


# A stored file's name comes from the step (a visualization's or artifact's name): only these
# characters reach the storage, so no name can climb out of the run's folder.
UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
MAX_FILENAME = 100


def storage_filename(name: str, extension: str = "") -> str:
    """A file name that is safe in storage for an output called `name` (kept for display)."""
    stem = UNSAFE_FILENAME_CHARS.sub("-", name).strip(".-")[:MAX_FILENAME] or "output"
    return stem + extension


def _looks_like_a_path(name: str) -> bool:
    return "/" in name or "\\" in name or name.startswith(".")


RUNNER_RAISED = re.compile(r"^\[ydp\] (.+ raised .+)$", re.M)
PYTHON_ERROR = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit)(?::.*)?)$", re.M)
R_ERROR = re.compile(r"^(Error(?: in .+?)?: .+)$", re.M)


def failure_reason(log: str) -> str:
    """The line of a failed step's log that says why: the step runner's summary of a raised
    notebook cell, else the last Python exception line, else R's last error."""
    log = strip_ansi(log)  # IPython colours its tracebacks
    for pattern in (RUNNER_RAISED, PYTHON_ERROR, R_ERROR):
        found = pattern.findall(log)
        if found:
            return found[0 if pattern is RUNNER_RAISED else -1].strip()[:500]
    return ""


@dataclass
class Fetched:
    name: str
    content: bytes
    kind: str
    media_type: str
    filename: str
    data: dict


def _fetch_log(client: ArgoClient, step: Step) -> str:
    try:
        text = client.get_log(
            step.run.workflow_name, pod_name=step.pod_name, namespace=step.run.workflow_namespace
        )
    except ArgoNotFound:
        return "(the log is no longer available in Argo)"
    if len(text) > MAX_LOG_CHARS:
        text = "(log truncated to its last 5,000,000 characters)\n" + text[-MAX_LOG_CHARS:]
    return text


def _artifact_names(step: Step) -> list[str]:
    return [a["name"] for a in (step.outputs or {}).get("artifacts") or [] if a.get("name")]


def fetch_step_outputs(client: ArgoClient, step_id: int) -> str:
    step = Step.objects.select_related("run").filter(pk=step_id).first()
    if step is None:
        return "gone"
    if step.log_fetched and step.artifacts_fetched:
        return "already fetched"
    log = _fetch_log(client, step) if step.node_type == "Pod" else ""

    fetched: list[Fetched] = []
    metrics = []
    history = History()
    notes: list[str] = []
    for name in _artifact_names(step):
        if name == "main-logs":
            continue  # Argo's archived log: we read the log through the log API instead.
        try:
            content = client.get_artifact(
                step.run.workflow_name,
                step.node_id,
                name,
                namespace=step.run.workflow_namespace,
            )
        except ArgoNotFound:
            notes.append(f"artifact {name!r} was not available")
            continue
        except ArgoError as exc:
            if exc.transient:
                raise
            notes.append(f"artifact {name!r}: {exc}")
            continue
        if len(content) > MAX_ARTIFACT_BYTES:
            notes.append(f"artifact {name!r} is over 64 MiB and was not copied")
            continue
        if name == METRICS:
            try:
                metrics = parse_metrics(content)
            except OutputFormatError as exc:
                notes.append(str(exc))
        if name == METRIC_HISTORY:
            history = parse_history(content)
            notes += history.notes
        if name == UI_METADATA:
            try:
                visualizations = parse_ui_metadata(content, step.display_name)
            except OutputFormatError as exc:
                notes.append(str(exc))
                visualizations = []
            for visualization in visualizations:
                item = _from_visualization(visualization)
                if item.content and _looks_like_a_path(item.name):
                    notes.append(f"output {item.name!r} is stored as {item.filename!r}")
                fetched.append(item)
            continue
        kind, media, filename = KNOWN_ARTIFACTS.get(name, (None, None, storage_filename(name)))
        if kind is None:
            kind, media = kind_for_filename(name)
        fetched.append(Fetched(name, content, kind, media, filename, {}))

    _store(step, log, fetched, metrics, notes, history)
    points = f", {len(history.points)} metric points" if history.points else ""
    return f"fetched {len(fetched)} artifacts, {len(metrics)} metrics{points}"


def _from_visualization(v: Visualization) -> Fetched:
    extension = {ArtifactKind.HTML: ".html", ArtifactKind.MARKDOWN: ".md"}.get(v.kind, ".json")
    content = v.content if v.content is not None else b""
    return Fetched(
        v.name,
        content,
        v.kind,
        v.media_type or "application/json",
        storage_filename(v.name, extension),
        v.data,
    )


def _store(
    step: Step,
    log: str,
    fetched: list[Fetched],
    metrics: list,
    notes: list[str],
    history: History | None = None,
) -> None:
    with transaction.atomic():
        locked = Step.objects.select_for_update().get(pk=step.pk)
        if locked.log_fetched and locked.artifacts_fetched:
            return
        for artifact in Artifact.objects.filter(step=locked):
            artifact.file.delete(save=False)
        Artifact.objects.filter(step=locked).delete()
        Metric.objects.filter(step=locked).delete()
        MetricPoint.objects.filter(step=locked).delete()
        for item in fetched:
            artifact = Artifact(
                run_id=locked.run_id,
                step=locked,
                name=item.name[: Artifact._meta.get_field("name").max_length],
                kind=item.kind,
                size=len(item.content),
                media_type=item.media_type,
                data=item.data,
            )
            if item.content:
                try:
                    artifact.file.save(
                        f"{locked.node_id}/{item.filename}", ContentFile(item.content), save=False
                    )
                except (SuspiciousFileOperation, OSError) as exc:
                    # One output that cannot be stored must not cost the step its others.
                    logger.warning("step %s: output %r not stored: %s", locked.pk, item.name, exc)
                    notes.append(f"output {item.name!r} could not be stored: {exc}")
                    continue
            artifact.save()
        taken = set(Metric.objects.filter(run_id=locked.run_id).values_list("name", flat=True))
        rows = []
        finals = [(m.name, m.value, m.format) for m in metrics]
        # A logged history's last point is its final value, unless the KFP file names it too.
        history = history or History()
        kfp_names = {m.name for m in metrics}
        finals += [(n, v, "RAW") for n, v in history.last_values().items() if n not in kfp_names]
        stored_names: dict[str, str] = {}
        for metric_name, value, fmt in finals:
            # Metric names are unique per run: a second step's metric of the same name is
            # kept under "<step>/<name>".
            name = (
                metric_name if metric_name not in taken else f"{locked.display_name}/{metric_name}"
            )
            taken.add(name)
            stored_names[metric_name] = name[:200]
            rows.append(
                Metric(run_id=locked.run_id, step=locked, name=name[:200], value=value, format=fmt)
            )
        Metric.objects.bulk_create(rows, ignore_conflicts=True)
        if history.points:
            _store_points(locked, history, stored_names, notes)
        if notes:
            log = (log + "\n" if log else "") + "\n".join(f"[ydpipelines] {n}" for n in notes)
        locked.log = log
        locked.log_fetched = True
        locked.artifacts_fetched = True
        fields = ["log", "log_fetched", "artifacts_fetched"]
        reason = failure_reason(log) if locked.phase in ("Failed", "Error") else ""
        if reason and reason not in locked.message:
            # Argo only knows the exit code; the log knows the exception.
            before = f"Step {locked.display_name!r} failed: {locked.message}"
            locked.message = f"{locked.message}: {reason}" if locked.message else reason
            fields.append("message")
            Run.objects.filter(pk=locked.run_id, message=before).update(
                message=f"Step {locked.display_name!r} failed: {locked.message}"
            )
        locked.save(update_fields=fields)


def _store_points(step: Step, history: History, names: dict[str, str], notes: list[str]) -> None:
    """The step's metric history, within the run's cap (the first points are kept: the
    final value already went to the Metric row)."""
    others = MetricPoint.objects.filter(run_id=step.run_id).exclude(step=step).count()
    room = max(MAX_POINTS_PER_RUN - others, 0)
    kept = history.points[:room]
    if len(history.points) > room:
        notes.append(
            f"metric history: {len(history.points) - room} of {len(history.points)} points "
            f"not stored (a run keeps at most {MAX_POINTS_PER_RUN:,} points)"
        )
    MetricPoint.objects.bulk_create(
        [
            MetricPoint(
                run_id=step.run_id,
                step=step,
                name=names[p.name],
                index=p.index,
                value=p.value,
                logged_at=p.time,
            )
            for p in kept
        ],
        batch_size=1000,
    )
