"""The app's processes in tests: the embedded engine, Celery worker and beat, their environment."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


class ChildProcess:
    """A process in its own session (so that kill reaches its children), output to a log."""

    stop_timeout = 15.0

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.log: IO[bytes] | None = None

    @property
    def proc(self) -> subprocess.Popen:
        assert self.process is not None, "not started"
        return self.process

    def spawn(self, command: list[str], env: dict[str, str] | None = None) -> None:
        if self.log is None:
            self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_tail(self, size: int = 3000) -> str:
        try:
            return self.log_path.read_bytes()[-size:].decode(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """kill -9 of the process and everything it started."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def kill9(self) -> None:
        """kill -9 of the process alone: what it started must notice by itself."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.log is not None:
            self.log.close()
            self.log = None


class EngineProcess(ChildProcess):
    """`python -m ydpipelines.localargo` on a free port with its own data folder; its output
    goes to engine-PORT.log beside that folder. `start()` again after `stop()` or `kill9()`
    restarts it on the same port and data."""

    stop_timeout = 10.0

    def __init__(
        self,
        data: Path,
        *,
        port: int | None = None,
        extra: list[str] | None = None,
        token: str | None = None,
        env: dict[str, str] | None = None,
        python: str | None = None,
    ) -> None:
        self.data = data
        self.extra = extra or []  # more options, e.g. ["--executor", "container"]
        self.token = token
        self.env = env  # added to this process's environment
        self.python = python or sys.executable  # the engine's interpreter
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(data.parent / f"engine-{self.port}.log")

    @property
    def data_dir(self) -> Path:  # the name the app's tests know the data folder by
        return self.data

    def start(self, timeout: float = 30) -> EngineProcess:
        command = [self.python, "-m", "ydpipelines.localargo", "--port", str(self.port)]
        command += ["--data", str(self.data), *self.extra]
        if self.token:
            command += ["--token", self.token]
        self.spawn(command, {**os.environ, **self.env} if self.env else None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.url}/api/v1/version", timeout=1)
                return self
            except requests.RequestException:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"engine exited: {self.log_tail()}") from None
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"engine did not answer within {timeout} s: {self.log_tail()}")


# -- the processes a process started (/proc, Linux) -------------------------------------------


def _stat(pid: int) -> tuple[str, str, int] | None:
    """(command name, state letter, parent pid) of a live process, or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
    return name, rest[0], int(rest[1])


def children(pid: int) -> dict[int, str]:
    """The processes whose parent is ``pid``: pid -> command name."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) and stat[2] == pid:
            found[int(entry)] = stat[0]
    return found


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid`` in the process tree: pid -> command name. Unlike a
    machine-wide `pgrep`, this never sees the processes of another test run."""
    found: dict[int, str] = {}
    parents = [pid]
    while parents:
        below = children(parents.pop())
        found.update(below)
        parents.extend(below)
    return found


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[1] != "Z"


def gone(pids, seconds: float = 5) -> bool:
    """True once none of ``pids`` runs any more (within ``seconds``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(alive(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


def stopped(pids, seconds: float = 5) -> bool:
    """True once every one of ``pids`` is stopped (SIGSTOP) or gone (within ``seconds``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all((stat := _stat(pid)) is None or stat[1] in "TZ" for pid in pids):
            return True
        time.sleep(0.01)
    return False


class CeleryProcess(ChildProcess):
    """A real Celery worker (or, with beat=True, the beat scheduler) in its own process, on
    the test database and the test's Redis broker."""

    def __init__(self, env: dict[str, str], log_path: Path, *, beat: bool = False) -> None:
        super().__init__(log_path)
        self.env = env
        self.beat = beat

    def start(self) -> CeleryProcess:
        command = [sys.executable, "-m", "celery", "-A", "ydpipelines"]
        if self.beat:
            schedule = str(self.log_path.with_suffix(".schedule"))
            command += ["beat", "--loglevel", "INFO", "--schedule", schedule]
        else:
            command += [
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
                "--without-gossip",
                "--without-mingle",
            ]
        self.spawn(command, self.env)
        return self

    # Lines of the worker's INFO log: "Task NAME[ID] received" when it takes a message; any
    # later line with the id ("succeeded", "raised", "retry", "Discarding revoked task: ...")
    # ends that delivery. Prefetch 1 x concurrency 2: a task received is in a pool process.
    _TASK = re.compile(r"(?:[\w.]+\.)?(\w+)\[([0-9a-f-]{36})\]( received)?")

    def tasks_in_flight(self) -> list[str]:
        """The tasks (short names) this worker has taken and not finished, from its log."""
        open_ids: dict[str, list[str]] = {}
        for name, task_id, received in self._TASK.findall(self.log_tail(size=1 << 30)):
            if received:
                open_ids.setdefault(task_id, []).append(name)
            elif open_ids.get(task_id):
                open_ids[task_id].pop()
        return sorted(name for names in open_ids.values() for name in names)

    def kill_when_busy(
        self, tasks: set[str], timeout: float = 90, after: Callable[[], bool] | None = None
    ) -> list[str]:
        """kill -9 of the worker at a moment it executes one of ``tasks`` (started once
        ``after()`` is true, if given); returns the tasks it had in flight. Checked on a frozen
        worker (SIGSTOP, then its log), so that the task seen running cannot finish before the
        kill: the kill hits it for sure."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the worker exited by itself: {self.log_tail()}")
            if after is not None and after():
                after = None
            if after is None and tasks & set(self.tasks_in_flight()):
                os.killpg(self.proc.pid, signal.SIGSTOP)
                pids = [self.proc.pid, *descendants(self.proc.pid)]
                if not stopped(pids):
                    os.killpg(self.proc.pid, signal.SIGCONT)
                    continue
                in_flight = self.tasks_in_flight()  # final: no process of it runs now
                if tasks & set(in_flight):
                    self.kill()  # SIGKILL reaches stopped processes
                    return in_flight
                os.killpg(self.proc.pid, signal.SIGCONT)
            time.sleep(0.05)
        waited = "" if after is None else " (its precondition never held)"
        raise AssertionError(
            f"the worker never executed any of {sorted(tasks)} within {timeout} s{waited} "
            f"(in flight: {self.tasks_in_flight()}): {self.log_tail()}"
        )


def app_env(settings, *, redis_url: str, data_dir: Path, extra: dict[str, str] | None = None):
    """The environment of the app's own processes in a test: the test database, the test's
    engine and live server, the test's Redis broker."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        database_url = f"sqlite:///{db['NAME']}"
    else:
        database_url = (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "ARGO_SERVER": settings.ARGO_SERVER,
            "ARGO_NAMESPACE": settings.ARGO_NAMESPACE,
            "YDP_PUBLIC_URL": settings.YDP_PUBLIC_URL,
            "YDP_DATA_DIR": str(data_dir),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "PYTHONUNBUFFERED": "1",
            # Users made by the test (fast hasher, tests/conftest.py) must be able to sign in.
            "YDP_PASSWORD_HASHERS": ",".join(settings.PASSWORD_HASHERS),
        }
    )
    env.update(extra or {})
    return env


def clear_redis(settings) -> None:
    """Delete this session's Redis keys (its prefix alone): the tasks other tests queued that no
    worker took, before a test starts a real worker that must not run them."""
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    keys = list(client.scan_iter(f"{settings.YDP_REDIS_PREFIX}*", count=1000))
    if keys:
        client.delete(*keys)
