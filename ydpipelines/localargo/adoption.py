"""A running container's ticket: what the engine must know of a step to take it back after a
restart (its log, outputs, files and limits), written next to the step's folder before the
container starts. JSON, not pickle: the engine's data folder must never run code it reads."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .executor import StepRun
from .volumes import Mount, StepFS

TICKET = "container.json"


def ticket_path(run: StepRun) -> Path:
    return run.tmp_dir.parent / TICKET


def save(run: StepRun, log_offset: int) -> None:
    """Write ``run``'s ticket; ``log_offset``: where the container's output starts in its log
    (the engine's own lines come before)."""
    fs = run.fs
    ticket = {
        "key": list(run.key),
        "pod": run.pod,
        "tmp_dir": str(run.tmp_dir),
        "cwd": run.cwd,
        "log_path": str(run.log_path),
        "log_offset": log_offset,
        "started": run.started,
        "outputs": run.outputs,
        "devices": run.devices,
        # env values may be secrets: only what the engine needs to account for and judge the
        # step (image, resources) is kept
        "spec": {k: v for k, v in run.spec.items() if k in ("image", "resources")},
        "fs": None
        if fs is None
        else {
            "tmp": str(fs.tmp),
            "mounts": [[m.path, str(m.source), m.read_only, m.memory] for m in fs.mounts],
            "staging": [[str(p), o] for p, o in fs.staging],
        },
    }
    path = ticket_path(run)
    part = path.with_suffix(".part")
    part.write_text(json.dumps(ticket))
    os.replace(part, path)  # a ticket is whole or absent


def load(path: Path) -> tuple[StepRun, int] | None:
    """The step run a ticket describes and its log offset; None when it is missing or broken
    (the step is then lost, as before)."""
    try:
        t: dict[str, Any] = json.loads(path.read_text())
        fs = t.get("fs")
        run = StepRun(
            key=(t["key"][0], t["key"][1], t["key"][2]),
            argv=[],
            env={},
            tmp_dir=Path(t["tmp_dir"]),
            cwd=t["cwd"],
            log_path=Path(t["log_path"]),
            started=float(t["started"]),
            outputs=t.get("outputs") or {},
            pod=t["pod"],
            spec=t.get("spec") or {},
            devices=[str(d) for d in t.get("devices") or []],
            fs=None
            if fs is None
            else StepFS(
                Path(fs["tmp"]),
                [Mount(p, Path(s), bool(ro), bool(mem)) for p, s, ro, mem in fs["mounts"]],
                [(Path(p), o) for p, o in fs["staging"]],
            ),
        )
        return run, int(t["log_offset"])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
