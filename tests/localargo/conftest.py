"""Fixtures: plain HTTP against the engine. The session's engine is the one `engine` fixture of
tests/conftest.py; a test that needs an engine of its own starts an EngineProcess
(tests/processes.py)."""

from __future__ import annotations

import json
import time

import jsonschema
import pytest
import requests

from tests.conftest import shared_path

# Their home is tests/processes.py; imported from here by older tests.
from tests.processes import EngineProcess, free_port  # noqa: F401

NS = "default"


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


_validators: dict[tuple[int, str], jsonschema.Draft4Validator] = {}


def validate(swagger: dict, body: dict, definition: str) -> None:
    """Check ``body`` against one of swagger.json's definitions. The validator of each
    definition is built once, and swagger.json itself checked against Draft 4 once:
    `jsonschema.validate` re-checks the whole 800 kB document on every call (0.16 s of CPU),
    and the tests poll the engine ten times a second through this."""
    key = (id(swagger), definition)
    if key not in _validators:
        definitions = _int_or_string(swagger["definitions"])
        schema = {"$ref": f"#/definitions/{definition}", "definitions": definitions}
        if not any(known == id(swagger) for known, _ in _validators):
            jsonschema.Draft4Validator.check_schema(schema)
        _validators[key] = jsonschema.Draft4Validator(schema)
    # what jsonschema.validate raises: the most relevant of the errors
    error = jsonschema.exceptions.best_match(_validators[key].iter_errors(body))
    if error is not None:
        raise error


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
