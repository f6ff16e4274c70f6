"""Kubeflow's output conventions, parsed into what the app stores and draws.

`mlpipeline-metrics.json`: {"metrics": [{"name", "numberValue", "format"}]}.
`mlpipeline-ui-metadata.json`: {"outputs": [{"type": confusion_matrix | roc | table | markdown |
web-app, "storage": "inline", "source": ..., "format": "csv", "schema"/"header"/"labels": ...}]}.
The step runner inlines file sources, so everything needed is in the JSON itself.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from apps.runs.constants import ArtifactKind, MetricFormat

METRIC_NAME = re.compile(r"^[A-Za-z0-9_.:/ -]{1,200}$")
MAX_TABLE_ROWS = 1000


class OutputFormatError(ValueError):
    """A malformed metrics or ui-metadata file; the message says what is wrong."""


@dataclass
class ParsedMetric:
    name: str
    value: float
    format: str = MetricFormat.RAW


@dataclass
class Visualization:
    kind: str
    name: str
    data: dict[str, Any] = field(default_factory=dict)
    content: bytes | None = None  # for HTML/markdown bodies stored as a file
    media_type: str = ""


def _load_json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise OutputFormatError(f"{what} is not valid JSON: {exc}") from exc


def parse_metrics(raw: bytes) -> list[ParsedMetric]:
    doc = _load_json(raw, "mlpipeline-metrics.json")
    items = doc.get("metrics") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise OutputFormatError('mlpipeline-metrics.json needs a "metrics" list')
    metrics: list[ParsedMetric] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise OutputFormatError(f"metrics[{index}] is not an object")
        name = str(item.get("name", ""))
        if not METRIC_NAME.match(name):
            raise OutputFormatError(f"metrics[{index}] has a bad name {name!r}")
        try:
            value = float(item.get("numberValue"))
        except (TypeError, ValueError):
            raise OutputFormatError(f"metric {name!r} has no numeric numberValue") from None
        if math.isnan(value) or math.isinf(value):
            raise OutputFormatError(f"metric {name!r} is not a finite number")
        fmt = str(item.get("format") or MetricFormat.RAW).upper()
        if fmt not in MetricFormat.values:
            fmt = MetricFormat.RAW
        metrics.append(ParsedMetric(name=name, value=value, format=fmt))
    return metrics


def _csv_rows(source: Any) -> list[list[str]]:
    if isinstance(source, list):
        return [[str(cell) for cell in row] for row in source]
    return [row for row in csv.reader(io.StringIO(str(source or ""))) if row]


def _confusion_matrix(output: dict[str, Any], name: str) -> Visualization:
    rows = _csv_rows(output.get("source"))
    labels = [str(label) for label in output.get("labels") or []]
    if not labels:
        labels = sorted({row[0] for row in rows} | {row[1] for row in rows if len(row) > 1})
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0.0 for _ in labels] for _ in labels]
    for row in rows:
        if len(row) < 3 or row[0] not in index or row[1] not in index:
            continue
        try:
            matrix[index[row[0]]][index[row[1]]] += float(row[2])
        except ValueError:
            continue
    return Visualization(ArtifactKind.CONFUSION_MATRIX, name, {"labels": labels, "matrix": matrix})


def _roc(output: dict[str, Any], name: str) -> Visualization:
    points = []
    for row in _csv_rows(output.get("source")):
        try:
            fpr, tpr = float(row[0]), float(row[1])
        except (ValueError, IndexError):
            continue
        threshold = row[2] if len(row) > 2 else ""
        points.append([fpr, tpr, threshold])
    points.sort(key=lambda point: (point[0], point[1]))
    return Visualization(ArtifactKind.ROC, name, {"points": points})


def _table(output: dict[str, Any], name: str) -> Visualization:
    rows = _csv_rows(output.get("source"))
    header = [str(cell) for cell in output.get("header") or []]
    if not header and rows:
        header, rows = rows[0], rows[1:]
    return Visualization(
        ArtifactKind.TABLE,
        name,
        {"header": header, "rows": rows[:MAX_TABLE_ROWS], "truncated": len(rows) > MAX_TABLE_ROWS},
    )


def parse_ui_metadata(raw: bytes, step_name: str) -> list[Visualization]:
    doc = _load_json(raw, "mlpipeline-ui-metadata.json")
    outputs = doc.get("outputs") if isinstance(doc, dict) else None
    if not isinstance(outputs, list):
        raise OutputFormatError('mlpipeline-ui-metadata.json needs an "outputs" list')
    visualizations: list[Visualization] = []
    counts: dict[str, int] = {}
    for output in outputs:
        if not isinstance(output, dict):
            continue
        kind = str(output.get("type", ""))
        counts[kind] = counts.get(kind, 0) + 1
        suffix = f"-{counts[kind]}" if counts[kind] > 1 else ""
        name = str(output.get("name") or f"{step_name}-{kind}{suffix}")
        if kind == "confusion_matrix":
            visualizations.append(_confusion_matrix(output, name))
        elif kind == "roc":
            visualizations.append(_roc(output, name))
        elif kind == "table":
            visualizations.append(_table(output, name))
        elif kind == "markdown":
            text = str(output.get("source") or "")
            visualizations.append(
                Visualization(
                    ArtifactKind.MARKDOWN, name, {}, text.encode(), "text/markdown; charset=utf-8"
                )
            )
        elif kind == "web-app":
            html = str(output.get("source") or "")
            visualizations.append(
                Visualization(
                    ArtifactKind.HTML, name, {}, html.encode(), "text/html; charset=utf-8"
                )
            )
    return visualizations


def kind_for_filename(filename: str) -> tuple[str, str]:
    """(artifact kind, media type) guessed from a file name."""
    lower = filename.lower()
    for suffixes, kind, media in (
        ((".html", ".htm"), ArtifactKind.HTML, "text/html"),
        ((".md",), ArtifactKind.MARKDOWN, "text/markdown"),
        ((".csv", ".tsv"), ArtifactKind.TABLE, "text/csv"),
        ((".png",), ArtifactKind.IMAGE, "image/png"),
        ((".jpg", ".jpeg"), ArtifactKind.IMAGE, "image/jpeg"),
        ((".svg",), ArtifactKind.IMAGE, "image/svg+xml"),
        ((".gif",), ArtifactKind.IMAGE, "image/gif"),
        ((".ipynb",), ArtifactKind.NOTEBOOK, "application/x-ipynb+json"),
        ((".json",), ArtifactKind.FILE, "application/json"),
        ((".tgz", ".tar.gz"), ArtifactKind.FILE, "application/gzip"),
        ((".txt", ".log"), ArtifactKind.FILE, "text/plain"),
    ):
        if lower.endswith(suffixes):
            return kind, media
    return ArtifactKind.FILE, "application/octet-stream"
