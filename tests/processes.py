"""The app's processes in tests: the embedded engine, Celery worker and beat, their environment."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

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

    def spawn(self, command: list[str], env: dict[str, str] | None = None) -> None:
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """kill -9 of the process and everything it started."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


class EngineProcess(ChildProcess):
    """`python -m ydpipelines.localargo` on a free port with its own data folder."""

    stop_timeout = 10.0

    def __init__(
        self, data_dir: Path, port: int | None = None, extra: list[str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.extra = extra or []  # more options, e.g. ["--executor", "container"]
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(data_dir.parent / f"engine-{self.port}.log")

    def start(self) -> EngineProcess:
        self.spawn(
            [
                sys.executable,
                "-m",
                "ydpipelines.localargo",
                "--port",
                str(self.port),
                "--data",
                str(self.data_dir),
                *self.extra,
            ]
        )
        wait_for_http(f"{self.url}/api/v1/version")
        return self


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
