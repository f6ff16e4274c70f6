"""Reading a selection of runs from a request (`?runs=a,b,c` or repeated `runs=`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable


def parse_run_ids(values: Iterable[str], *, where: str = "") -> list[uuid.UUID]:
    """The run ids in the values (each a uuid or several joined by commas), in order, without
    repeats. Raises ValueError naming the first value that is not a run id (and `where` it
    was, e.g. "in runs=")."""
    ids: list[uuid.UUID] = []
    for value in values:
        for part in str(value).split(","):
            part = part.strip()
            if not part:
                continue
            try:
                run_id = uuid.UUID(part)
            except ValueError:
                place = f" {where}" if where else ""
                raise ValueError(f"“{part[:60]}”{place} is not a run id.") from None
            if run_id not in ids:
                ids.append(run_id)
    return ids
