from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

from apps.orchestration.argo import get_client
from apps.runs.models import Run
from apps.runs.outputs import fetch_step_outputs
from apps.runs.sync import sync_active_runs

ROOT = Path(__file__).resolve().parents[2]


def zip_folder(folder: Path, *, leave_out: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder).as_posix()
            if path.is_file() and relative != leave_out and "__pycache__" not in relative:
                archive.write(path, relative)
    return buffer.getvalue()


def sync_until_finished(run: Run, timeout: float = 180) -> Run:
    """What beat and the worker do, in the test's own process: sync, then fetch outputs."""
    client = get_client()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = sync_active_runs(client)
        for step_id in stats["finished_step_ids"]:
            fetch_step_outputs(client, step_id)
        run.refresh_from_db()
        if run.is_finished:
            # One more pass: outputs of steps that ended in the last interval.
            return run
        time.sleep(0.2)  # a sync pass is cheap; a run's end is seen sooner
    raise AssertionError(f"run still {run.state} after {timeout} s: {run.message}")
