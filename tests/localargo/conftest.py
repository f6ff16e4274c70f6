"""Fixtures: the engine as a real subprocess on a free port with its own data dir."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
import requests

from tests.conftest import shared_path

NS = "default"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EngineProcess:
    """``python -m ydpipelines.localargo`` in a subprocess; ``url`` is its API root."""

    def __init__(
        self,
        data: Path,
        token: str | None = None,
        extra: list[str] | None = None,
        env: dict[str, str] | None = None,
        python: str | None = None,
    ):
        self.data = data
        self.python = python or sys.executable  # the engine's interpreter
        self.token = token
        self.extra = extra or []
        self.env = env  # added to this process's environment
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> EngineProcess:
        cmd = [
            self.python,
            "-m",
            "ydpipelines.localargo",
            "--port",
            str(self.port),
            "--data",
            str(self.data),
            *self.extra,
        ]
        if self.token:
            cmd += ["--token", self.token]
        root = Path(__file__).resolve().parents[2]
        self.proc = subprocess.Popen(
            cmd,
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **self.env} if self.env else None,
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                requests.get(f"{self.url}/api/v1/version", timeout=1)
                return self
            except requests.ConnectionError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"engine exited: {self.proc.stdout.read()}") from None
                time.sleep(0.1)
        raise RuntimeError("engine did not start within 20 s")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def engine(tmp_path_factory) -> EngineProcess:
    proc = EngineProcess(tmp_path_factory.mktemp("engine"), extra=["--cron-seconds"]).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def swagger() -> dict:
    return json.loads(shared_path("argo", "swagger.json").read_text())


class Client:
    """Plain HTTP against the engine; every JSON answer is checked against swagger.json."""

    def __init__(self, base: str, swagger: dict, token: str | None = None) -> None:
        self.base = base
        self.swagger = swagger
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def check(self, body: dict, definition: str) -> dict:
        validate(self.swagger, body, definition)
        return body

    def call(self, method: str, path: str, definition: str | None = None, **kw) -> dict:
        resp = self.session.request(method, self.base + path, timeout=30, **kw)
        body = resp.json()
        if resp.status_code != 200:
            self.check(body, "grpc.gateway.runtime.Error")
            raise ApiFailure(resp.status_code, body)
        if definition:
            self.check(body, definition)
        return body

    def create(self, wf: dict) -> dict:
        return self.call("POST", f"/api/v1/workflows/{NS}", WF, json={"workflow": wf})

    def get(self, name: str) -> dict:
        return self.call("GET", f"/api/v1/workflows/{NS}/{name}", WF)

    def wait(self, name: str, timeout: float = 30, phases=("Succeeded", "Failed", "Error")) -> dict:
        deadline = time.time() + timeout
        while True:
            wf = self.get(name)
            if wf["status"].get("phase") in phases:
                return wf
            if time.time() > deadline:
                raise AssertionError(f"{name} still {wf['status'].get('phase')} after {timeout}s")
            time.sleep(0.1)

    def run(self, wf: dict, timeout: float = 30) -> dict:
        return self.wait(self.create(wf)["metadata"]["name"], timeout)


class ApiFailure(Exception):
    def __init__(self, status: int, body: dict) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


WF = "io.argoproj.workflow.v1alpha1.Workflow"


def _int_or_string(definitions: dict) -> dict:
    """swagger.json types IntOrString as string only; Argo accepts and returns both (see
    ../shared/argo/SOURCES.md), so the check accepts an integer there too."""
    fixed = dict(definitions)
    fixed["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {"type": ["string", "integer"]}
    return fixed


_resolvers: dict[int, dict] = {}


def validate(swagger: dict, body: dict, definition: str) -> None:
    key = id(swagger)
    if key not in _resolvers:
        _resolvers[key] = {"definitions": _int_or_string(swagger["definitions"])}
    root = _resolvers[key]
    schema = {"$ref": f"#/definitions/{definition}", "definitions": root["definitions"]}
    jsonschema.validate(body, schema, cls=jsonschema.Draft4Validator)


@pytest.fixture(scope="session")
def api(engine, swagger) -> Client:
    return Client(engine.url, swagger)


HOST_NOTE = "image {} not used: the engine runs with --executor host"


def step_lines(lines: list[str], image: str = "busybox") -> list[str]:
    """A host-executor step's log lines after the engine's note that its image was not used
    (the note is checked here: each step's log starts with it)."""
    assert lines[:1] == [HOST_NOTE.format(image)], lines[:1]
    return lines[1:]


def container(name: str, script: str, **extra) -> dict:
    """A busybox container template running ``sh -c script``."""
    return {
        "name": name,
        "container": {"image": "busybox", "command": ["sh", "-c"], "args": [script]},
        **extra,
    }


def workflow(entry: str, templates: list[dict], prefix: str = "t-", **spec) -> dict:
    return {
        "metadata": {"generateName": prefix},
        "spec": {"entrypoint": entry, "templates": templates, **spec},
    }
