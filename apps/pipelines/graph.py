"""The graph of a pipeline version, drawn server-side as SVG.

graph_from_manifest reads any Argo Workflow / WorkflowTemplate / CronWorkflow manifest: the
entrypoint's DAG tasks (edges from `dependencies` and the task names in `depends` expressions) or
its steps groups (each group's steps follow every step of the group before). A task that calls a
DAG or steps template is one node of that kind. Node keys are task/step names, which are the Argo
nodes' displayNames at run time, so a run page can colour the graph from the workflow's status.

render_svg lays the graph out in layers (Sugiyama: longest-path layering, dummy nodes on long
edges, barycentre ordering sweeps, then a packing pass for x), all in plain Python: grandalf takes
seconds at 1,000 nodes, this takes tens of milliseconds (bench/render.py prints it). The output
only depends on the graph (no randomness, no dict-order surprises), so it can be cached and
compared.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from html import escape
from typing import Any

from apps.pipelines.constants import TEMPLATE_KINDS
from apps.pipelines.rendering import NODE_ID_ANNOTATION, NODE_LABEL_ANNOTATION, task_names
from apps.pipelines.spec import Node
from ydpipelines.localargo.expressions import ExpressionError, task_dependencies


@dataclass
class GraphNode:
    key: str  # DAG task name / step name: equals the Argo node's displayName at run time
    label: str
    kind: str  # "notebook" | "python" | "r" | "container" | "script" | "dag" | "steps" | ...
    template: str = ""
    badge: str = ""  # a second line: "3 iterations", "2 attempts"
    group: str = ""  # the looped task an iteration node belongs to


@dataclass
class Graph:
    nodes: list[GraphNode] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)  # (upstream key, downstream key)


def template_kind(template: dict[str, Any] | None) -> str:
    if not template:
        return "template"
    for kind in TEMPLATE_KINDS:
        if kind in template:
            return "container-set" if kind == "containerSet" else kind
    return "template"


def _workflow_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    spec = manifest.get("spec") or {}
    if manifest.get("kind") == "CronWorkflow":
        spec = spec.get("workflowSpec") or {}
    return spec if isinstance(spec, dict) else {}


def _elyra_nodes(spec: dict[str, Any] | None) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    for raw in (spec or {}).get("nodes") or []:
        if isinstance(raw, dict) and raw.get("id"):
            nodes[raw["id"]] = Node(
                id=raw["id"],
                label=raw.get("label") or "",
                kind=raw.get("kind") or "",
                filename=raw.get("filename") or "",
                runtime_image=raw.get("runtime_image") or "",
            )
    return nodes


def graph_from_manifest(manifest: dict[str, Any], spec: dict[str, Any] | None = None) -> Graph:
    """The graph of the manifest's entrypoint; labels and kinds from the Elyra `spec` (the
    PipelineSpec as a dict) when given, else task names and template kinds."""
    wf_spec = _workflow_spec(manifest)
    templates = {t.get("name"): t for t in wf_spec.get("templates") or [] if isinstance(t, dict)}
    entry = templates.get(wf_spec.get("entrypoint"))
    graph = Graph()
    if entry is None:
        return graph

    elyra = _elyra_nodes(spec)
    # task name -> Elyra node: through the node-id annotation the renderer puts on each template,
    # or, for a manifest without it, by naming the spec's nodes as the renderer does.
    by_task: dict[str, Node] = {}
    if elyra:
        for node_id, task in task_names(elyra.values()).items():
            by_task[task] = elyra[node_id]

    def node_for(key: str, template_name: str, ref: bool = False) -> GraphNode:
        template = templates.get(template_name)
        kind = "template-ref" if ref else template_kind(template)
        label = key
        annotations = ((template or {}).get("metadata") or {}).get("annotations") or {}
        # The node the renderer named in the annotation; else one whose id is the task name (the
        # spec of an Argo upload); else the node the renderer would have given this task name.
        elyra_node = (
            elyra.get(annotations.get(NODE_ID_ANNOTATION, "")) or elyra.get(key) or by_task.get(key)
        )
        if elyra_node is None and annotations.get(NODE_LABEL_ANNOTATION):
            label = str(annotations[NODE_LABEL_ANNOTATION])
        if elyra_node is not None:
            label = elyra_node.label or key
            kind = elyra_node.kind or kind
        return GraphNode(key=key, label=label, kind=kind, template=template_name)

    def call_target(call: dict[str, Any]) -> tuple[str, bool]:
        if call.get("template"):
            return str(call["template"]), False
        ref = call.get("templateRef") or {}
        return str(ref.get("template") or ref.get("name") or ""), True

    if "dag" in entry:
        tasks = [t for t in (entry["dag"] or {}).get("tasks") or [] if isinstance(t, dict)]
        keys = {str(t.get("name")) for t in tasks}
        for task in tasks:
            key = str(task.get("name"))
            graph.nodes.append(node_for(key, *call_target(task)))
            try:
                upstream = task_dependencies(task)
            except ExpressionError:  # refused at upload; a stored manifest still draws
                upstream = []
            for dep in upstream:
                if dep in keys and dep != key:
                    graph.edges.append((dep, key))
    elif "steps" in entry:
        previous: list[str] = []
        seen: set[str] = set()
        for group in entry["steps"] or []:
            steps = group if isinstance(group, list) else [group]
            current = []
            for step in steps:
                if not isinstance(step, dict):
                    continue
                key = str(step.get("name"))
                if key in seen:  # Argo refuses it; draw it once rather than crash
                    continue
                seen.add(key)
                graph.nodes.append(node_for(key, *call_target(step)))
                graph.edges.extend((p, key) for p in previous)
                current.append(key)
            previous = current or previous
    else:
        name = str(entry.get("name"))
        graph.nodes.append(node_for(name, name))

    exit_handler = wf_spec.get("onExit")
    if exit_handler and exit_handler in templates:
        sinks = {n.key for n in graph.nodes} - {a for a, _ in graph.edges}
        graph.nodes.append(
            GraphNode(
                key="onExit", label=f"on exit: {exit_handler}", kind="exit", template=exit_handler
            )
        )
        graph.edges.extend((s, "onExit") for s in sorted(sinks))
    return graph


# ---------------------------------------------------------------------------------------------
# Layout

NODE_W, NODE_H = 200, 44
GAP_X, GAP_Y = 28, 64
DUMMY_W = 8
MARGIN = 20
MAX_LABEL = 21  # about what fits in a box at 13px

_KIND_LETTERS = {
    "notebook": "N",
    "python": "Py",
    "r": "R",
    "container": "C",
    "script": "S",
    "dag": "D",
    "steps": "St",
    "resource": "K",
    "suspend": "Z",
    "container-set": "CS",
    "data": "Da",
    "http": "H",
    "plugin": "Pl",
    "template-ref": "T",
    "exit": "E",
    "more": "+",
}

_STYLE = """
.ydp-graph{font:13px system-ui,-apple-system,"Segoe UI",sans-serif}
.ydp-graph .edge{fill:none;stroke:#8a94a6;stroke-width:1.4}
.ydp-graph .ydp-arrow{fill:#8a94a6}
.ydp-graph .node rect.box{fill:#fff;stroke:#9aa5b8;stroke-width:1.2}
.ydp-graph .node:focus{outline:none}
.ydp-graph .node:focus rect.box,.ydp-graph .node:hover rect.box{stroke:#1f6feb;stroke-width:2}
.ydp-graph .node .icon{fill:#e8ecf3}
.ydp-graph .node .letter{font-weight:600;fill:#3b4252;text-anchor:middle}
.ydp-graph .node text.label{fill:#1f2328}
.ydp-graph .phase-pending rect.box{fill:#f6f8fa}
.ydp-graph .phase-running rect.box{fill:#ddf4ff;stroke:#0969da}
.ydp-graph .phase-succeeded rect.box{fill:#dafbe1;stroke:#1a7f37}
.ydp-graph .phase-failed rect.box,.ydp-graph .phase-error rect.box{fill:#ffebe9;stroke:#cf222e}
.ydp-graph .phase-skipped rect.box,.ydp-graph .phase-omitted rect.box{fill:#f6f8fa;
  stroke-dasharray:4 3}
.ydp-graph .phase-terminated rect.box{fill:#fff8c5;stroke:#9a6700}
.ydp-graph .node text.badge{fill:#57606a;font-size:11px}
.ydp-graph .kind-more rect.box{stroke-dasharray:5 3}
""".strip()


def _layers(keys: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering; nodes on a cycle (a broken manifest) go below the rest."""
    parents: dict[str, list[str]] = defaultdict(list)
    children: dict[str, list[str]] = defaultdict(list)
    indegree = dict.fromkeys(keys, 0)
    for a, b in edges:
        parents[b].append(a)
        children[a].append(b)
        indegree[b] += 1
    layer: dict[str, int] = {}
    ready = [k for k in keys if indegree[k] == 0]
    while ready:
        nxt = []
        for k in ready:
            layer[k] = max((layer[p] + 1 for p in parents[k] if p in layer), default=0)
            for c in children[k]:
                indegree[c] -= 1
                if indegree[c] == 0:
                    nxt.append(c)
        ready = nxt
    bottom = max(layer.values(), default=-1) + 1
    for k in keys:
        layer.setdefault(k, bottom)
    return layer


@dataclass
class _Layout:
    positions: dict[str, tuple[float, float]]  # node key -> centre (x, y)
    routes: list[tuple[str, str, list[tuple[float, float]]]]  # edge -> points (with dummies)
    width: float
    height: float


def layout(graph: Graph) -> _Layout:
    keys = [n.key for n in graph.nodes]
    index = {k: i for i, k in enumerate(keys)}
    edges = sorted(
        {(a, b) for a, b in graph.edges if a in index and b in index and a != b},
        key=lambda e: (index[e[0]], index[e[1]]),
    )
    layer = _layers(keys, edges)

    # Long edges pass through one dummy vertex per layer they cross, so that ordering sees them.
    width_of: dict[str, float] = dict.fromkeys(keys, NODE_W)
    vlayer = dict(layer)
    up: dict[str, list[str]] = defaultdict(list)
    down: dict[str, list[str]] = defaultdict(list)
    chains: list[tuple[str, str, list[str]]] = []
    for a, b in edges:
        la, lb = layer[a], layer[b]
        if lb <= la:  # an edge back up (cycle): drawn directly, not layered
            chains.append((a, b, [a, b]))
            continue
        chain = [a]
        for lv in range(la + 1, lb):
            dummy = f"\0{a}\0{b}\0{lv}"
            vlayer[dummy] = lv
            width_of[dummy] = DUMMY_W
            chain.append(dummy)
        chain.append(b)
        for u, v in itertools.pairwise(chain):
            down[u].append(v)
            up[v].append(u)
        chains.append((a, b, chain))

    depth = max(vlayer.values(), default=-1) + 1
    rows: list[list[str]] = [[] for _ in range(depth)]
    for v in list(keys) + [v for v in vlayer if v not in index]:
        rows[vlayer[v]].append(v)

    # Barycentre sweeps: down (by parents' positions), then up (by children's), a few times.
    pos = {v: float(i) for row in rows for i, v in enumerate(row)}

    def reorder(row: list[str], neighbours: dict[str, list[str]]) -> list[str]:
        def key(v: str) -> tuple[float, float]:
            ns = neighbours.get(v)
            return (sum(pos[n] for n in ns) / len(ns) if ns else pos[v], pos[v])

        ordered = sorted(row, key=key)
        for i, v in enumerate(ordered):
            pos[v] = float(i)
        return ordered

    for _ in range(4):
        for i in range(1, depth):
            rows[i] = reorder(rows[i], up)
        for i in range(depth - 2, -1, -1):
            rows[i] = reorder(rows[i], down)

    # x: pack each row left to right, then pull it towards its neighbours' centres.
    x: dict[str, float] = {}
    for row in rows:
        cursor = 0.0
        for v in row:
            x[v] = cursor + width_of[v] / 2
            cursor += width_of[v] + GAP_X

    def place(row: list[str], neighbours: dict[str, list[str]]) -> None:
        desired = []
        for v in row:
            ns = [n for n in neighbours.get(v, ()) if n in x]
            desired.append(sum(x[n] for n in ns) / len(ns) if ns else x[v])
        packed: list[float] = []
        for i, v in enumerate(row):
            want = desired[i]
            if packed:
                prev = row[i - 1]
                want = max(want, packed[-1] + (width_of[prev] + width_of[v]) / 2 + GAP_X)
            packed.append(want)
        shift = sum(d - p for d, p in zip(desired, packed, strict=True)) / len(row) if row else 0
        for v, p in zip(row, packed, strict=True):
            x[v] = p + shift

    for _ in range(2):
        for i in range(1, depth):
            place(rows[i], up)
        for i in range(depth - 2, -1, -1):
            place(rows[i], down)

    left = min((x[v] - width_of[v] / 2 for v in x), default=0.0)
    right = max((x[v] + width_of[v] / 2 for v in x), default=0.0)
    centre = {
        v: (x[v] - left + MARGIN, MARGIN + vlayer[v] * (NODE_H + GAP_Y) + NODE_H / 2) for v in x
    }
    routes = [(a, b, [centre[v] for v in chain]) for a, b, chain in chains]
    return _Layout(
        positions={k: centre[k] for k in keys},
        routes=routes,
        width=right - left + 2 * MARGIN,
        height=depth * (NODE_H + GAP_Y) - GAP_Y + 2 * MARGIN if depth else 2 * MARGIN,
    )


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _edge_path(points: list[tuple[float, float]]) -> str:
    """A smooth vertical curve from the bottom of the source to the top of the target."""
    (x0, y0), (x1, y1) = points[0], points[-1]
    pts = [(x0, y0 + NODE_H / 2), *points[1:-1], (x1, y1 - NODE_H / 2 - 2)]
    if y1 <= y0:  # a back edge: leave from the side, come around
        pts = [(x0 + NODE_W / 2, y0), (x1 + NODE_W / 2, y1)]
        mid = max(x0, x1) + NODE_W / 2 + 40
        return (
            f"M{_f(pts[0][0])},{_f(pts[0][1])} C{_f(mid)},{_f(y0)} {_f(mid)},{_f(y1)} "
            f"{_f(pts[1][0])},{_f(pts[1][1])}"
        )
    d = [f"M{_f(pts[0][0])},{_f(pts[0][1])}"]
    for (ax, ay), (bx, by) in itertools.pairwise(pts):
        my = (ay + by) / 2
        d.append(f"C{_f(ax)},{_f(my)} {_f(bx)},{_f(my)} {_f(bx)},{_f(by)}")
    return " ".join(d)


def _phase_class(phase: str | None) -> str:
    cleaned = re.sub(r"[^a-z]", "", (phase or "").lower())
    return f"phase-{cleaned or 'pending'}"


def _kind_class(kind: str) -> str:
    return "kind-" + (re.sub(r"[^a-z0-9-]", "", kind.lower()) or "template")


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1].rstrip() + "\u2026"


def render_svg(
    graph: Graph, *, phases: dict[str, str] | None = None, notes: dict[str, str] | None = None
) -> str:
    """SVG markup; each node is a <g class="node phase-<phase>" data-node="<key>">. ``notes``
    (key -> text, e.g. why a step waits) end the node's tooltip."""
    phases = phases or {}
    notes = notes or {}
    plan = layout(graph)
    width, height = max(plan.width, NODE_W + 2 * MARGIN), max(plan.height, NODE_H + 2 * MARGIN)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ydp-graph" width="{_f(width)}" '
        f'height="{_f(height)}" viewBox="0 0 {_f(width)} {_f(height)}" role="img" '
        f'aria-label="Pipeline graph: {len(graph.nodes)} nodes">',
        f"<style>{_STYLE}</style>",
        '<defs><marker id="ydp-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path class="ydp-arrow" '
        'd="M0,0 L10,5 L0,10 z"/></marker>'
        # Wide letters could still overflow a box: clip labels to it (in each node's own space).
        f'<clipPath id="ydp-label-clip"><rect x="40" y="0" width="{NODE_W - 46}" '
        f'height="{NODE_H}"/></clipPath></defs>',
        '<g class="edges">',
    ]
    for a, b, points in plan.routes:
        out.append(
            f'<path class="edge" data-from="{escape(a)}" data-to="{escape(b)}" '
            f'd="{_edge_path(points)}" marker-end="url(#ydp-arrow)"/>'
        )
    out.append('</g><g class="nodes">')
    for node in graph.nodes:
        cx, cy = plan.positions[node.key]
        x, y = cx - NODE_W / 2, cy - NODE_H / 2
        letter = _KIND_LETTERS.get(node.kind, (node.kind[:1] or "?").upper())
        tooltip = f"{node.label}\n{node.kind}: {node.key}"
        if node.key in phases:
            tooltip += f"\n{phases[node.key]}"
        if node.badge:
            tooltip = f"{node.label}\n{node.kind}: {node.key} ({node.badge})"
            if node.key in phases:
                tooltip += f"\n{phases[node.key]}"
        if node.key in notes:
            tooltip += f"\n{notes[node.key]}"
        group = f' data-group="{escape(node.group)}"' if node.group else ""
        label_y = 22 if node.badge else 27
        badge = (
            f'<text class="badge" x="42" y="37" clip-path="url(#ydp-label-clip)">'
            f"{escape(node.badge)}</text>"
            if node.badge
            else ""
        )
        out.append(
            f'<g class="node {_phase_class(phases.get(node.key))} {_kind_class(node.kind)}" '
            f'data-node="{escape(node.key)}"{group} tabindex="0" '
            f'transform="translate({_f(x)},{_f(y)})">'
            f"<title>{escape(tooltip)}</title>"
            f'<rect class="box" width="{NODE_W}" height="{NODE_H}" rx="8" ry="8"/>'
            f'<rect class="icon" x="6" y="8" width="28" height="28" rx="6" ry="6"/>'
            f'<text class="letter" x="20" y="27">{escape(letter)}</text>'
            f'<text class="label" x="42" y="{label_y}" clip-path="url(#ydp-label-clip)">'
            f"{escape(_truncate(node.label))}</text>{badge}"
            "</g>"
        )
    out.append("</g></svg>")
    return "".join(out)
