"""Host steps start from the executor's step launcher (launcher.py), a process forked for each
step instead of a fresh setpriv/unshare/python chain: the step still has its own session and
pid namespace, no descriptor of the engine or the launcher, dies with the engine, the launcher
or the engine's kill, and a launcher that died is replaced for the next step."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.processes import alive, children, descendants, gone
from ydpipelines.localargo.executor import Executor, LaunchedStep, StepRun, namespace_prefix

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0
    or not hasattr(os, "pidfd_open")
    or "--user" in (namespace_prefix() or ["--user"]),  # None: no namespaces at all
    reason="the launcher makes namespaces itself: an engine run as root that may unshare",
)
ROOT = Path(__file__).resolve().parents[2]


class Steps:
    """An Executor of its own, and the steps' ends (exit code, reason) by key."""

    def __init__(self, base: Path, parallel: int = 2) -> None:
        self.base = base
        self.ends: dict[str, tuple[int, str | None]] = {}
        self.cond = threading.Condition()
        self.executor = Executor(parallel, self._done)

    def _done(self, run: StepRun, code: int, reason: str | None) -> None:
        with self.cond:
            self.ends[run.key[2]] = (code, reason)
            self.cond.notify_all()

    def start(self, name: str, script: str) -> StepRun:
        tmp = self.base / name / "tmp"
        tmp.mkdir(parents=True)
        os.chmod(tmp, 0o777)
        env = {"PATH": "/usr/bin:/bin"}
        run = StepRun(
            ("ns", "wf", name), ["sh", "-c", script], env, tmp, "/tmp", tmp.parent / "log"
        )
        assert self.executor.start(run)
        return run

    def end(self, name: str, timeout: float = 30) -> tuple[int, str | None]:
        with self.cond:
            assert self.cond.wait_for(lambda: name in self.ends, timeout), name
            return self.ends[name]

    def running(self, run: StepRun, timeout: float = 30) -> LaunchedStep:
        """The step's process, once the step has started (from the launcher)."""
        deadline = time.monotonic() + timeout
        while not isinstance(run.proc, LaunchedStep) or not run.proc.started.is_set():
            assert run.proc is None, f"not started by the launcher: {run.proc!r}"
            assert time.monotonic() < deadline, "the step did not start"
            time.sleep(0.01)
        return run.proc

    def log(self, name: str) -> str:
        return (self.base / name / "log").read_text()


@pytest.fixture
def steps(tmp_path):
    s = Steps(tmp_path)
    try:
        yield s
    finally:
        s.executor.stop()


def sleepers(pid: int) -> list[int]:
    return [p for p, name in descendants(pid).items() if name == "sleep"]


def wait_for_sleepers(pid: int, count: int) -> list[int]:
    deadline = time.monotonic() + 30
    while len(found := sleepers(pid)) < count:
        assert time.monotonic() < deadline, descendants(pid)
        time.sleep(0.02)
    return found


def test_a_step_is_forked_by_the_launcher_in_its_own_session_and_namespaces(steps) -> None:
    run = steps.start("a", "sleep 60")
    proc = steps.running(run)
    launcher = steps.executor.launcher
    assert launcher is not None
    # launcher -> the step's group leader (what `unshare --fork` was) -> pid 1 of its namespace
    assert proc.pid in children(launcher.proc.pid)
    (sleep,) = wait_for_sleepers(proc.pid, 1)
    assert os.getpgid(sleep) == os.getsid(sleep) == proc.pid
    for ns in ("mnt", "pid"):
        assert os.readlink(f"/proc/{sleep}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}")
    assert not {"setpriv", "unshare"} & set(descendants(os.getpid()).values())
    assert steps.executor.kill(run.key, "stopped")
    assert steps.end("a") == (-signal.SIGKILL, "stopped")
    assert gone([sleep])


def test_a_step_gets_no_descriptor_of_the_engine_or_the_launcher(steps) -> None:
    first = steps.start("a", "sleep 60")  # its pipes and pidfd are open while the next starts
    steps.running(first)
    steps.start("b", "ls /proc/self/fd; exit 7")
    assert steps.end("b") == (7, None)
    assert steps.log("b").split() == ["0", "1", "2", "3"]  # 3: ls's own listing
    steps.executor.kill(first.key, "done")
    assert steps.end("a")[0] == -signal.SIGKILL


def test_the_engine_kill_ends_every_process_of_the_step(steps) -> None:
    # a background sleep, and one in a session of its own (out of the step's process group)
    run = steps.start("a", "sleep 60 & setsid sleep 60 & sleep 60")
    proc = steps.running(run)
    found = wait_for_sleepers(proc.pid, 3)
    steps.executor.kill(run.key, "terminated")
    assert steps.end("a") == (-signal.SIGKILL, "terminated")
    assert gone(found)


def test_a_launcher_that_dies_takes_its_steps_and_is_replaced(steps) -> None:
    run = steps.start("a", "sleep 60")
    proc = steps.running(run)
    found = wait_for_sleepers(proc.pid, 1)
    launcher = steps.executor.launcher
    assert launcher is not None
    os.kill(launcher.proc.pid, signal.SIGKILL)
    assert steps.end("a") == (-signal.SIGKILL, "the step launcher stopped")
    assert gone(found)
    steps.start("b", "echo again")
    assert steps.end("b") == (0, None)
    assert steps.log("b") == "again\n"
    assert steps.executor.launcher is not launcher and steps.executor.launcher is not None


def test_no_step_outlives_an_engine_killed_with_sigkill(tmp_path) -> None:
    """An engine of its own (a child process running an Executor), killed -9 mid-step."""
    program = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
        from ydpipelines.localargo.executor import Executor, StepRun
        ex = Executor(2, lambda *a: None)
        for name in ("a", "b"):
            tmp = Path({str(tmp_path)!r}, name, "tmp")
            tmp.mkdir(parents=True)
            tmp.chmod(0o777)
            run = StepRun(("ns", "wf", name), ["sh", "-c", "sleep 60 & sleep 60"],
                          {{"PATH": "/usr/bin:/bin"}}, tmp, "/tmp", tmp.parent / "log")
            ex.start(run)
        print("started", flush=True)
        time.sleep(120)
        """
    )
    engine = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True)
    try:
        assert engine.stdout is not None and engine.stdout.readline() == "started\n"
        found = wait_for_sleepers(engine.pid, 4)
        launcher = [p for p, name in children(engine.pid).items() if name.startswith("python")]
        assert len(launcher) == 1, children(engine.pid)
        engine.kill()
        engine.wait()
        assert gone(found), {p: alive(p) for p in found}
        assert gone(launcher)
    finally:
        engine.kill()
        engine.wait()


def test_the_chain_still_starts_steps_without_a_launcher(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("YDP_STEP_LAUNCHER", "0")
    s = Steps(tmp_path)
    try:
        run = s.start("a", "echo chain; exit 3")
        assert s.end("a") == (3, None)
        assert s.log("a") == "chain\n" and isinstance(run.proc, subprocess.Popen)
        assert s.executor.launcher is None
    finally:
        s.executor.stop()


def test_many_steps_at_once_all_start_and_end(tmp_path) -> None:
    """Up to 40 steps in flight on one launcher: each ends with its own code and output."""
    s = Steps(tmp_path, parallel=40)
    try:
        runs = []
        for i in range(80):
            while not s.executor.free_slots():
                time.sleep(0.005)
            runs.append(s.start(f"s{i}", f"echo {i}; exit {i % 3}"))
        for i, run in enumerate(runs):
            assert s.end(f"s{i}", timeout=120) == (i % 3, None)
            assert s.log(f"s{i}") == f"{i}\n" and isinstance(run.proc, LaunchedStep)
    finally:
        s.executor.stop()
