"""`pytest --cpu-report=PATH`: the CPU seconds each test cost, the processes it started
included (engines, Celery, Chromium, steps), one JSON line per test in PATH, and the costliest
at the end of the run. On a loaded machine wall-clock durations mostly say how long a test
waited for a CPU; what a test costs is its CPU time.

A test's figure is its worker's own CPU, that of the processes the worker reaped (RUSAGE_CHILDREN,
their own children included) and the change in CPU of the worker's live descendants (their
utime, stime and reaped children's, read from /proc, Linux), so a session-wide engine's work
lands on the test that asked for it. The report's own /proc reads are left out."""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Generator
from pathlib import Path

import pytest

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def tree_cpu(root: int) -> float:
    """CPU seconds of the live processes below ``root``, with what they reaped: one pass over
    /proc (a walk per level would read it once per process in the tree)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # the name may hold spaces
        # fields[1] is the parent; [11:15] utime, stime, cutime, cstime
        stats[int(entry)] = (int(fields[1]), sum(map(int, fields[11:15])) / TICK)
    below: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        below.setdefault(parent, []).append(pid)
    total, todo = 0.0, list(below.get(root, ()))
    while todo:
        pid = todo.pop()
        total += stats[pid][1]
        todo.extend(below.get(pid, ()))
    return total


class CpuReport:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.overhead = 0.0  # this report's own CPU, taken out of the worker's

    @staticmethod
    def vendor() -> str:
        from django.db import connection

        return connection.vendor

    def sample(self) -> tuple[float, float]:
        """(the worker's own CPU, that of the processes it started) so far."""
        started = time.process_time()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        others = children.ru_utime + children.ru_stime + tree_cpu(os.getpid())
        self.overhead += time.process_time() - started
        return time.process_time() - self.overhead, others

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem
    ) -> Generator[None, object, object]:
        own, others = self.sample()
        began = time.time()
        try:
            return (yield)
        finally:
            own_after, others_after = self.sample()
            line = {
                "test": item.nodeid,
                "own": own_after - own,
                "started": others_after - others,
                # when and where it ran: the run's timeline, to see which worker ends it last
                "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
                "database": self.vendor(),
                "began": round(began, 3),
                "wall": round(time.time() - began, 3),
            }
            with self.path.open("a") as out:  # one short append per line: safe across workers
                out.write(json.dumps(line) + "\n")

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config: pytest.Config) -> None:
        if os.environ.get("PYTEST_XDIST_WORKER") or not self.path.exists():
            return
        rows = [json.loads(line) for line in self.path.read_text().splitlines() if line]
        own = sum(r["own"] for r in rows)
        started = sum(r["started"] for r in rows)
        terminalreporter.section(f"CPU of the tests (--cpu-report {self.path})")
        terminalreporter.write_line(
            f"{len(rows)} tests: {own:.0f} s in pytest, {started:.0f} s in what they started"
        )
        for row in sorted(rows, key=lambda r: -(r["own"] + r["started"]))[:20]:
            cpu = row["own"] + row["started"]
            terminalreporter.write_line(f"{cpu:7.2f} s  ({row['own']:.2f} own)  {row['test']}")


def add_option(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cpu-report",
        metavar="PATH",
        help="write each test's CPU seconds (its processes included) to PATH, one JSON line per "
        "test, and list the costliest at the end (tests/cpu_report.py)",
    )


def configure(config: pytest.Config) -> None:
    path = config.getoption("--cpu-report", None)
    if path:
        path = Path(path).resolve()
        if not os.environ.get("PYTEST_XDIST_WORKER"):
            path.unlink(missing_ok=True)  # a new run, a new report
        config.pluginmanager.register(CpuReport(path), "cpu-report")
