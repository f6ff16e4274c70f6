"""Self-reported progress (Argo's ``ARGO_PROGRESS_FILE``): a step writes ``N/M`` to the file
and its node's progress shows it while it runs; a step that succeeds is complete (``M/M``)."""

from __future__ import annotations

import re
from pathlib import Path

# the path steps get in $ARGO_PROGRESS_FILE (Argo's /var/run/argo/progress): a file of the
# step's private /tmp, so a step writes it with no folder to make
PROGRESS = "/tmp/.argo-progress"
_PROGRESS = re.compile(r"^(\d+)/(\d+)$")


def read_reported(path: Path | None) -> tuple[int, int] | None:
    """The ``N/M`` a step last wrote (N <= M, M > 0), or None: no file, or not a progress."""
    if path is None:
        return None
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return None
    found = _PROGRESS.match(text.splitlines()[-1].strip() if text else "")
    if not found:
        return None
    done, total = int(found.group(1)), int(found.group(2))
    return (done, total) if total > 0 and done <= total else None
