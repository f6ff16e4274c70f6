"""The graph of a pipeline version, drawn server-side as SVG.  (CONTRACT STUB: the rendering
helper replaces the bodies; keep the signatures.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class GraphNode:
    key: str  # DAG task name / step name: equals the Argo node's displayName at run time
    label: str
    kind: str  # "notebook" | "python" | "r" | "container" | "script" | "dag" | "steps" | ...
    template: str = ""


@dataclass
class Graph:
    nodes: list[GraphNode] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)  # (upstream key, downstream key)


def graph_from_manifest(manifest: dict[str, Any], spec: dict[str, Any] | None = None) -> Graph:
    raise NotImplementedError


def render_svg(graph: Graph, *, phases: dict[str, str] | None = None) -> str:
    """SVG markup; each node is a <g class="node phase-<phase>" data-node="<key>">."""
    raise NotImplementedError
