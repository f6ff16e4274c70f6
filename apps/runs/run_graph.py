"""A run's graph: the version's graph plus what only the run knows, from its Step rows.

A looped task (withItems / withParam / withSequence) runs as one node per item, which Argo names
`task(0:a)`, `task(1:b)` under a TaskGroup node "task"; a retried step runs as attempts
`task(0)`, `task(1)` under a Retry node "task". The graph draws a looped task as its group node
fanning out to its iterations (the first MAX_ITERATIONS, then one "+ N more" node that opens the
full list), and a retried node with a badge counting its attempts.

Everything here reads display names only, so the live poll (which does not load the manifest)
and the page compute the same phases and the same `shape`: when the poll's shape differs from
the drawn one, new iterations or attempts appeared and the page redraws the graph.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from apps.pipelines.graph import Graph, GraphNode
from apps.runs.constants import StepPhase
from apps.runs.models import Step

MAX_ITERATIONS = 20
MORE_SUFFIX = "(+)"
# Argo's name of a loop child: `<task>(<index>:<item>)`; task names have no parentheses.
LOOP_ITERATION = re.compile(r"^(?P<key>[^()]+)\((?P<index>\d+):(?P<item>.*)\)$")
ATTEMPT = re.compile(r"^(?P<key>.+)\((?P<n>\d+)\)$")
# A group's phase, from its iterations' phases: the first rule that holds wins.
_ACTIVE = {StepPhase.PENDING, StepPhase.RUNNING}
_BAD = (StepPhase.FAILED, StepPhase.ERROR)


@dataclass
class Executions:
    """What the Step rows say about loops and retries."""

    loops: dict[str, list[str]] = field(default_factory=dict)  # task key -> iteration keys
    attempts: dict[str, int] = field(default_factory=dict)  # node key -> Pod attempts (> 1)

    @property
    def shape(self) -> str:
        """Changes when an iteration or an attempt appears: the drawn graph is then outdated."""
        parts = [f"{k}:{len(v)}" for k, v in sorted(self.loops.items())]
        parts += [f"{k}*{n}" for k, n in sorted(self.attempts.items())]
        return hashlib.sha1("|".join(parts).encode()).hexdigest()[:12]


def executions(steps: Iterable[Step]) -> Executions:
    found = Executions()
    indexed: dict[str, list[tuple[int, str]]] = {}
    counts: dict[str, int] = {}
    for step in steps:
        name = step.display_name
        loop = LOOP_ITERATION.match(name)
        if loop:
            indexed.setdefault(loop.group("key"), []).append((int(loop.group("index")), name))
        attempt = ATTEMPT.match(name)
        if attempt and step.node_type == "Pod" and not loop:
            counts[attempt.group("key")] = counts.get(attempt.group("key"), 0) + 1
    found.loops = {key: [name for _, name in sorted(items)] for key, items in indexed.items()}
    found.attempts = {key: n for key, n in counts.items() if n > 1}
    return found


def task_key(key: str) -> str:
    """The manifest's task behind a node key: `task(1:b)(0)` -> `task`."""
    while True:
        match = ATTEMPT.match(key) or LOOP_ITERATION.match(key)
        if not match:
            return key
        key = match.group("key")


def group_phase(phases: Iterable[str]) -> str | None:
    """A looped task's phase from its iterations' (None without any)."""
    seen = set(phases)
    if not seen:
        return None
    if seen & _ACTIVE:
        return StepPhase.RUNNING
    for bad in _BAD:
        if bad in seen:
            return bad
    return StepPhase.SUCCEEDED if StepPhase.SUCCEEDED in seen else sorted(seen)[0]


def add_group_phases(phases: dict[str, str], found: Executions) -> None:
    """Give each looped task the phase of its iterations (Argo's TaskGroup node is not kept)."""
    for key, iterations in found.loops.items():
        phase = group_phase(phases[i] for i in iterations if i in phases)
        if phase is not None:
            phases[key] = phases[more_key(key)] = phase


def more_key(key: str) -> str:
    """The "+ N more" node of a looped task; it opens the task's panel (the full list)."""
    return f"{key}{MORE_SUFFIX}"


def expand(graph: Graph, found: Executions, limit: int = MAX_ITERATIONS) -> Graph:
    """The graph with each looped task fanned out to its iterations, attempts badged."""
    keys = {node.key for node in graph.nodes}
    out = Graph(edges=list(graph.edges))
    for node in graph.nodes:
        iterations = found.loops.get(node.key) if node.key in keys else None
        badge = ""
        if node.key in found.attempts:
            badge = f"{found.attempts[node.key]} attempts"
        if iterations:
            badge = f"{len(iterations)} iteration{'s' if len(iterations) != 1 else ''}"
        out.nodes.append(
            GraphNode(key=node.key, label=node.label, kind=node.kind, template=node.template,
                      badge=badge)
        )  # fmt: skip
        if not iterations:
            continue
        downstream = [b for a, b in out.edges if a == node.key]
        out.edges = [(a, b) for a, b in out.edges if a != node.key]
        shown = iterations[:limit]
        hidden = len(iterations) - len(shown)
        fan = list(shown) + ([more_key(node.key)] if hidden else [])
        for key in shown:
            match = LOOP_ITERATION.match(key)
            label = f"{match.group('index')}: {match.group('item')}" if match else key
            attempts = found.attempts.get(key)
            out.nodes.append(
                GraphNode(key=key, label=label, kind=node.kind, template=node.template,
                          badge=f"{attempts} attempts" if attempts else "", group=node.key)
            )  # fmt: skip
        if hidden:
            out.nodes.append(
                GraphNode(key=more_key(node.key), label=f"+ {hidden} more", kind="more",
                          template=node.template, badge="open the list", group=node.key)
            )  # fmt: skip
        for key in fan:
            out.edges.append((node.key, key))
            out.edges.extend((key, b) for b in downstream)
    return out
