"""How a bench's figures grow with the data: each run's figures are kept per size, and a run
at a larger size prints each figure beside the same figure at the next smaller size measured.

Issue 14's rule: a page must not get slower by more than 1.5x from 100k to 1M runs. The
figures are kept in var/bench/<bench>-<size>.json (YDP_BENCH_RESULTS names another folder),
with the date, the commit and the machine's load, since a ratio of two wall times taken at
different loads says little: the CPU figures beside them say more.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL = 1.5  # at most 1.5x slower from one size to the next (issue 14: 100k -> 1M)


def results_dir() -> Path:
    return Path(os.environ.get("YDP_BENCH_RESULTS", ROOT / "var" / "bench"))


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return ""
    return out.stdout.strip()


def record(bench: str, size: int, figures: dict[str, dict[str, float]]) -> Path:
    """Keep figures ({label: {name: value}}, e.g. {"default": {"page": 12.3, "queries": 6}})
    of bench at size, replacing an earlier run at that size."""
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{bench}-{size}.json"
    kept = {
        "bench": bench,
        "size": size,
        "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": _commit(),
        "load": round(os.getloadavg()[0], 1),
        "figures": figures,
    }
    path.write_text(json.dumps(kept, indent=1, sort_keys=True))
    return path


def smaller(bench: str, size: int) -> dict | None:
    """The kept run of bench at the largest size below size, if any."""
    best: dict | None = None
    for path in results_dir().glob(f"{bench}-*.json"):
        try:
            kept = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if kept.get("size", size) < size and (best is None or kept["size"] > best["size"]):
            best = kept
    return best


def report(bench: str, size: int, figures: dict[str, dict[str, float]], key: str) -> list[str]:
    """Lines comparing figures[label][key] with the same figure at the next smaller size kept
    (nothing when none is kept). Over GOAL is marked MISSED."""
    before = smaller(bench, size)
    if before is None:
        return []
    lines = [
        f"growth {before['size']:,} -> {size:,} ({key}; the smaller size measured"
        f" {before['at']}, load {before['load']}, commit {before['commit'] or '?'}):"
    ]
    for label, now in figures.items():
        then = before["figures"].get(label, {}).get(key)
        value = now.get(key)
        if not then or value is None:
            continue
        ratio = value / then
        mark = "ok" if ratio <= GOAL else "MISSED"
        lines.append(
            f"  {label:45s} {then:8.1f} -> {value:8.1f}  x{ratio:.2f} (goal <= {GOAL}x)  {mark}"
        )
    return lines if len(lines) > 1 else []
