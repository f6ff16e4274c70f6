"""Helpers on ``status.nodes``: phases, times, progress, the shapes Argo clients read."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

DONE = frozenset({"Succeeded", "Failed", "Error", "Skipped", "Omitted"})
FAILED = frozenset({"Failed", "Error"})


def now_iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if ts is None else ts, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def parse_iso(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def done(node: dict[str, Any] | None) -> bool:
    return node is not None and node.get("phase") in DONE


def progress(nodes: dict[str, dict[str, Any]]) -> str:
    pods = [n for n in nodes.values() if n.get("type") == "Pod"]
    finished = sum(1 for n in pods if n.get("phase") in DONE)
    return f"{finished}/{len(pods)}"


def fill_progress(nodes: dict[str, dict[str, Any]]) -> None:
    """Each node's progress counts the pods below it (Argo's n/m): a pod adds to every
    DAG/Steps boundary above it, and to the Retry/TaskGroup/StepGroup node that holds it."""
    counts: dict[str, list[int]] = {}
    for node in nodes.values():
        if node.get("type") != "Pod":
            continue
        finished = 1 if node.get("phase") in DONE else 0
        node["progress"] = f"{finished}/1"
        seen = set()
        b = node.get("boundaryID", "")
        while b and b in nodes and b not in seen:
            seen.add(b)
            c = counts.setdefault(b, [0, 0])
            c[0] += finished
            c[1] += 1
            b = nodes[b].get("boundaryID", "")
    for nid, node in nodes.items():
        kind = node.get("type")
        if kind in ("Retry", "TaskGroup", "StepGroup"):
            d = t = 0
            for child in node.get("children", []):
                cn = nodes.get(child)
                if cn is None or cn.get("type") == "StepGroup":
                    continue
                p = cn.get("progress") if cn.get("type") == "Pod" else None
                if p is None and child in counts:
                    p = f"{counts[child][0]}/{counts[child][1]}"
                if p:
                    a, b2 = p.split("/")
                    d += int(a)
                    t += int(b2)
            node["progress"] = f"{d}/{t}"
        elif kind != "Pod":
            d, t = counts.get(nid, [0, 0])
            node["progress"] = f"{d}/{t}"
