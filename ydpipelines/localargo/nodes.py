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


def fill_progress(
    nodes: dict[str, dict[str, Any]], reported: dict[str, tuple[int, int]] | None = None
) -> tuple[int, int, int, int]:
    """Each node's progress counts the pods below it (Argo's n/m): a pod adds to every
    DAG/Steps boundary above it, and to the Retry/TaskGroup/StepGroup node that holds it.
    ``reported`` holds the n/m pods wrote to $ARGO_PROGRESS_FILE (by node id): such a pod
    counts as that, and as m/m once it succeeded (Argo's Progress.Complete); a pod's n/m
    reported before (m other than 1 on its node) is kept. Returns the workflow's n/m (the sum
    over its pods) and its pods' resourcesDuration (cpu, memory): one walk over the pods, as
    this runs after every pass."""
    counts: dict[str, list[int]] = {}
    others: list[tuple[str, dict[str, Any]]] = []
    all_finished = all_total = cpu = mem = 0
    for nid, node in nodes.items():
        if node.get("type") != "Pod":
            others.append((nid, node))
            continue
        finished, total = (1 if node.get("phase") in DONE else 0), 1
        if reported and nid in reported:
            finished, total = reported[nid]
        else:
            d, _, t = (node.get("progress") or "").partition("/")
            if t not in ("", "1"):  # reported by the step in an earlier pass
                finished, total = int(d), int(t)
        if node.get("phase") == "Succeeded":
            finished = total
        node["progress"] = f"{finished}/{total}"
        all_finished += finished
        all_total += total
        used = node.get("resourcesDuration")
        if used is not None:
            cpu += used.get("cpu", 0)
            mem += used.get("memory", 0)
        seen = set()
        b = node.get("boundaryID", "")
        while b and b in nodes and b not in seen:
            seen.add(b)
            c = counts.setdefault(b, [0, 0])
            c[0] += finished
            c[1] += total
            b = nodes[b].get("boundaryID", "")
    for nid, node in others:
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
        else:
            d, t = counts.get(nid, [0, 0])
            node["progress"] = f"{d}/{t}"
    return all_finished, all_total, cpu, mem
