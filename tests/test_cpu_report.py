"""`--cpu-report` (tests/cpu_report.py) counts the CPU of the processes a test starts, those
still running when it ends included, and not a sleeping test's wait."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.cpu_report import CpuReport, tree_cpu

SPIN = "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass\n"


def test_the_cpu_of_a_live_grandchild_counts():
    # a parent that starts the spinner and waits: the spinner is below it, still running
    parent = subprocess.Popen(
        [sys.executable, "-c", f"import subprocess, sys\nsubprocess.run([sys.executable, "
         f"'-c', {SPIN + 'time.sleep(30)'!r}])"],
        start_new_session=True,  # killpg below ends both
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while tree_cpu(parent.pid) < 0.45 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert tree_cpu(parent.pid) >= 0.45
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()


def test_the_sample_holds_reaped_children_and_leaves_waiting_out(tmp_path: Path):
    report = CpuReport(tmp_path / "cpu.jsonl")
    own, started = report.sample()
    subprocess.run([sys.executable, "-c", SPIN], check=True)
    time.sleep(0.3)
    own_after, started_after = report.sample()
    assert started_after - started >= 0.45  # the child's half second of CPU
    assert own_after - own < 0.25  # the wait is not CPU
