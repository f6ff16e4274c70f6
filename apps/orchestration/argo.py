"""The one way the app talks to Argo: the Argo Server REST API.

The same code talks to a real Argo Server (ARGO_SERVER set) and to the embedded engine
(ydpipelines.localargo), which speaks the same API. Plain JSON over `requests` rather than Hera's
WorkflowsService: the sync lists a thousand workflows a pass with trimmed fields, which Hera's
pydantic models would parse slowly or refuse, and Hera 7.1 cannot read Argo's line-delimited log
stream nor return artifact bytes. Hera stays the renderer of manifests (apps.pipelines.rendering).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson
import requests
from django.conf import settings

logger = logging.getLogger(__name__)

# HTTP statuses worth retrying: the server is busy or briefly away, not wrong about our request.
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

# What the sync needs of each workflow; everything else (the spec, big outputs) stays on the server.
# What the sync reads of a workflow: its identity and status, without the nodes (a pass lists
# these first: most workflows did not move since the last pass), then with them.
SYNC_WORKFLOW_FIELDS = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "metadata.resourceVersion",
    "metadata.labels",
    "metadata.creationTimestamp",
    "status.phase",
    "status.message",
    "status.startedAt",
    "status.finishedAt",
    "status.progress",
]
SYNC_HEAD_FIELDS = ",".join(["metadata.continue", *(f"items.{f}" for f in SYNC_WORKFLOW_FIELDS)])
SYNC_FIELDS = f"{SYNC_HEAD_FIELDS},items.status.nodes"
SYNC_ONE_FIELDS = ",".join([*SYNC_WORKFLOW_FIELDS, "status.nodes"])

# The same, as a watch's events carry them (apps/runs/watch.py).
WATCH_SYNC_FIELDS = ",".join(
    ["result.type"]
    + [f"result.object.{f.removeprefix('items.')}" for f in SYNC_FIELDS.split(",")[1:]]
)

WORKFLOW_FINAL_PHASES = frozenset({"Succeeded", "Failed", "Error"})


class ArgoError(Exception):
    """A failed call. `transient` errors are worth retrying; the others are shown to the user."""

    def __init__(self, message: str, *, status: int | None = None, transient: bool = False):
        super().__init__(message)
        self.status = status
        self.transient = transient


class ArgoNotFound(ArgoError):
    pass


class ArgoAlreadyExists(ArgoError):
    pass


@dataclass(frozen=True)
class ArgoConfig:
    server: str
    token: str = ""
    namespace: str = "argo"
    timeout: float = 10.0
    verify_tls: bool = True

    @classmethod
    def from_settings(cls) -> ArgoConfig:
        return cls(
            server=settings.ARGO_SERVER.rstrip("/"),
            token=settings.ARGO_TOKEN,
            namespace=settings.ARGO_NAMESPACE,
            timeout=settings.ARGO_TIMEOUT_SECONDS,
            verify_tls=settings.ARGO_VERIFY_TLS,
        )


class ArgoClient:
    def __init__(self, config: ArgoConfig, session: requests.Session | None = None) -> None:
        self.config = config
        self.session = session or requests.Session()
        if config.token:
            token = config.token
            if not token.lower().startswith("bearer "):
                token = f"Bearer {token}"
            self.session.headers["Authorization"] = token
        self.session.verify = config.verify_tls

    # -- plumbing ---------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.config.server}{path}"

    def _ns(self, namespace: str | None) -> str:
        return quote(namespace or self.config.namespace, safe="")

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        stream: bool = False,
        timeout: float | None = None,
    ) -> requests.Response:
        try:
            response = self.session.request(
                method,
                self._url(path),
                params=params,
                json=body,
                stream=stream,
                timeout=timeout or self.config.timeout,
            )
        except requests.Timeout as exc:
            raise ArgoError(f"Argo did not answer in time ({exc})", transient=True) from exc
        except requests.ConnectionError as exc:
            raise ArgoError(f"Argo is unreachable at {self.config.server}", transient=True) from exc
        if response.status_code < 400:
            return response
        message = _error_message(response)
        status = response.status_code
        if status == 404:
            raise ArgoNotFound(message, status=status)
        if status == 409:
            raise ArgoAlreadyExists(message, status=status)
        raise ArgoError(message, status=status, transient=status in TRANSIENT_STATUSES)

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._request(method, path, **kwargs)
        if not response.content:
            return {}
        try:
            # orjson: a sync pass reads megabytes of nodes (1,000 workflows x 20), 3-5x faster
            return orjson.loads(response.content)
        except ValueError:
            pass  # an integer past 64 bits, which orjson refuses: the standard parser
        try:
            return json.loads(response.content)
        except ValueError as exc:
            raise ArgoError(f"Argo answered {method} {path} with invalid JSON") from exc

    # -- workflows ----------------------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        return self._json("GET", "/api/v1/version")

    def ping(self, *, timeout: float | None = None) -> None:
        """One cheap call that needs what every other call needs (reachable, token, RBAC on the
        namespace): a list of at most one workflow, one page only."""
        params = {"listOptions.limit": 1}
        self._json("GET", f"/api/v1/workflows/{self._ns(None)}", params=params, timeout=timeout)

    def create_workflow(
        self, manifest: dict[str, Any], *, namespace: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        ns = namespace or manifest.get("metadata", {}).get("namespace")
        body: dict[str, Any] = {"workflow": manifest, "namespace": ns or self.config.namespace}
        if dry_run:
            body["serverDryRun"] = True
        return self._json("POST", f"/api/v1/workflows/{self._ns(ns)}", body=body)

    def lint_workflow(
        self,
        manifest: dict[str, Any],
        *,
        namespace: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Argo's lint: would it accept this workflow? A refusal is an ArgoError with status 400
        (the embedded engine answers `unsupported: <field path>` for what it cannot run)."""
        ns = namespace or manifest.get("metadata", {}).get("namespace") or self.config.namespace
        body = {"workflow": manifest, "namespace": ns}
        return self._json(
            "POST", f"/api/v1/workflows/{self._ns(ns)}/lint", body=body, timeout=timeout
        )

    def get_workflow(
        self, name: str, *, namespace: str | None = None, fields: str | None = None
    ) -> dict[str, Any]:
        params = {"fields": fields} if fields else None
        return self._json(
            "GET", f"/api/v1/workflows/{self._ns(namespace)}/{quote(name)}", params=params
        )

    def list_workflows(
        self,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        fields: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Every workflow matching the selector, following continue tokens."""
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            params: dict[str, Any] = {}
            if label_selector:
                params["listOptions.labelSelector"] = label_selector
            if fields:
                params["fields"] = fields
            if limit:
                params["listOptions.limit"] = limit
            if token:
                params["listOptions.continue"] = token
            page = self._json("GET", f"/api/v1/workflows/{self._ns(namespace)}", params=params)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                return items

    def watch_workflows(
        self,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        fields: str = "",
        timeout_seconds: int = 30,
    ) -> Iterator[dict[str, Any]]:
        """Argo's watch (`workflow-events`, one `{"result": {"type", "object"}}` JSON a line):
        the matching workflows first (ADDED), then each change (ADDED, MODIFIED, DELETED; a
        workflow that stops matching the selector comes as DELETED). The server ends the
        stream after `timeout_seconds`. `fields` trims each event (`result.object.status...`)."""
        params = {"listOptions.timeoutSeconds": str(timeout_seconds)}
        if label_selector:
            params["listOptions.labelSelector"] = label_selector
        if field_selector:
            params["listOptions.fieldSelector"] = field_selector
        if fields:
            params["fields"] = fields
        response = self._request(
            "GET",
            f"/api/v1/workflow-events/{self._ns(namespace)}",
            params=params,
            stream=True,
            timeout=timeout_seconds + self.config.timeout,  # the server ends it first
        )
        with response:
            try:
                for raw in response.iter_lines(decode_unicode=False):
                    event = json.loads(raw) if raw else {}
                    if "error" in event:
                        raise ArgoError(str(event["error"].get("message", event["error"])))
                    if event.get("result"):
                        yield event["result"]
            except (requests.RequestException, ValueError) as exc:
                raise ArgoError(f"the watch broke off ({exc})", transient=True) from exc

    def watch_workflow(
        self, name: str, *, namespace: str | None = None, timeout_seconds: int = 30
    ) -> Iterator[dict[str, Any]]:
        """The workflow's phase each time it changes, the current state first. Raises
        ArgoNotFound for an unknown workflow."""
        return self.watch_workflows(
            namespace=namespace,
            field_selector=f"metadata.name={name}",
            fields="result.type,result.object.metadata.name,result.object.status.phase",
            timeout_seconds=timeout_seconds,
        )

    def wait_for_end(
        self, name: str, *, namespace: str | None = None, timeout: float = 30
    ) -> str | None:
        """The workflow's final phase as soon as the server reports it (a watch, not a poll);
        None if it has not ended within `timeout` seconds or was deleted."""
        seconds = max(1, int(timeout))
        for event in self.watch_workflow(name, namespace=namespace, timeout_seconds=seconds):
            if event.get("type") == "DELETED":
                return None
            phase = ((event.get("object") or {}).get("status") or {}).get("phase")
            if phase in WORKFLOW_FINAL_PHASES:
                return phase
        return None

    def delete_workflow(self, name: str, *, namespace: str | None = None) -> None:
        self._request("DELETE", f"/api/v1/workflows/{self._ns(namespace)}/{quote(name)}")

    def _action(
        self, name: str, action: str, namespace: str | None, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        ns = namespace or self.config.namespace
        payload = {"name": name, "namespace": ns, **(body or {})}
        return self._json(
            "PUT", f"/api/v1/workflows/{self._ns(ns)}/{quote(name)}/{action}", body=payload
        )

    def stop_workflow(self, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        return self._action(name, "stop", namespace)

    def terminate_workflow(self, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        return self._action(name, "terminate", namespace)

    def retry_workflow(
        self, name: str, *, namespace: str | None = None, restart_successful: bool = False
    ) -> dict[str, Any]:
        return self._action(name, "retry", namespace, {"restartSuccessful": restart_successful})

    def resubmit_workflow(self, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        return self._action(name, "resubmit", namespace)

    def suspend_workflow(self, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        return self._action(name, "suspend", namespace)

    def resume_workflow(self, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        return self._action(name, "resume", namespace)

    # -- logs and artifacts -------------------------------------------------------------------

    def iter_log(
        self,
        name: str,
        *,
        pod_name: str = "",
        namespace: str | None = None,
        container: str = "main",
        follow: bool = False,
        tail_lines: int | None = None,
        timeout: float | None = None,
    ) -> Iterator[str]:
        """The log's lines. Argo streams one `{"result": {"content": ..., "podName": ...}}` JSON
        object a line (grpc-gateway), each holding one log line."""
        params: dict[str, Any] = {"logOptions.container": container}
        if pod_name:
            params["podName"] = pod_name
        if follow:
            params["logOptions.follow"] = "true"
        if tail_lines is not None:
            params["logOptions.tailLines"] = tail_lines
        response = self._request(
            "GET",
            f"/api/v1/workflows/{self._ns(namespace)}/{quote(name)}/log",
            params=params,
            stream=True,
            timeout=timeout,
        )
        with response:
            for raw in response.iter_lines(decode_unicode=False):
                if not raw:
                    continue
                try:
                    event = json.loads(raw)
                except ValueError:
                    continue
                if "error" in event:
                    raise ArgoError(str(event["error"].get("message", event["error"])))
                result = event.get("result") or {}
                content = result.get("content")
                if content is not None:
                    yield content

    def get_log(self, name: str, *, pod_name: str = "", namespace: str | None = None) -> str:
        return "\n".join(self.iter_log(name, pod_name=pod_name, namespace=namespace))

    def get_artifact(
        self,
        workflow: str,
        node_id: str,
        artifact: str,
        *,
        namespace: str | None = None,
        direction: str = "outputs",
    ) -> bytes:
        path = (
            f"/artifact-files/{self._ns(namespace)}/workflows/{quote(workflow)}/"
            f"{quote(node_id)}/{direction}/{quote(artifact)}"
        )
        return self._request("GET", path, timeout=max(self.config.timeout, 60)).content

    # -- cron workflows -----------------------------------------------------------------------

    def create_cron_workflow(
        self, manifest: dict[str, Any], *, namespace: str | None = None
    ) -> dict[str, Any]:
        ns = namespace or manifest.get("metadata", {}).get("namespace")
        body = {"cronWorkflow": manifest, "namespace": ns or self.config.namespace}
        return self._json("POST", f"/api/v1/cron-workflows/{self._ns(ns)}", body=body)

    def get_cron_workflow(self, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        return self._json("GET", f"/api/v1/cron-workflows/{self._ns(namespace)}/{quote(name)}")

    def list_cron_workflows(
        self, *, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        params = {"listOptions.labelSelector": label_selector} if label_selector else None
        page = self._json("GET", f"/api/v1/cron-workflows/{self._ns(namespace)}", params=params)
        return page.get("items") or []

    def update_cron_workflow(
        self, manifest: dict[str, Any], *, namespace: str | None = None
    ) -> dict[str, Any]:
        name = manifest["metadata"]["name"]
        ns = namespace or manifest.get("metadata", {}).get("namespace")
        body = {"cronWorkflow": manifest, "name": name, "namespace": ns or self.config.namespace}
        return self._json("PUT", f"/api/v1/cron-workflows/{self._ns(ns)}/{quote(name)}", body=body)

    def delete_cron_workflow(self, name: str, *, namespace: str | None = None) -> None:
        self._request("DELETE", f"/api/v1/cron-workflows/{self._ns(namespace)}/{quote(name)}")

    def suspend_cron_workflow(self, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        ns = namespace or self.config.namespace
        return self._json(
            "PUT",
            f"/api/v1/cron-workflows/{self._ns(ns)}/{quote(name)}/suspend",
            body={"name": name, "namespace": ns},
        )

    def resume_cron_workflow(self, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        ns = namespace or self.config.namespace
        return self._json(
            "PUT",
            f"/api/v1/cron-workflows/{self._ns(ns)}/{quote(name)}/resume",
            body={"name": name, "namespace": ns},
        )

    def submit_from_cron(
        self, name: str, *, namespace: str | None = None, labels: str = ""
    ) -> dict[str, Any]:
        """Run a CronWorkflow now ("submit from")."""
        ns = namespace or self.config.namespace
        body: dict[str, Any] = {
            "namespace": ns,
            "resourceKind": "CronWorkflow",
            "resourceName": name,
        }
        if labels:
            body["submitOptions"] = {"labels": labels}
        return self._json("POST", f"/api/v1/workflows/{self._ns(ns)}/submit", body=body)


def _error_message(response: requests.Response) -> str:
    """Argo's grpc-gateway error body is `{"code": N, "message": "..."}`."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        # A log stream's error frame nests it: {"error": {"message": ...}}.
        nested = body.get("error") if isinstance(body.get("error"), dict) else {}
        message = body.get("message") or nested.get("message")
        if message:
            return f"Argo: {message} (HTTP {response.status_code})"
    text = (response.text or "").strip().splitlines()
    detail = text[0][:200] if text else response.reason
    return f"Argo: HTTP {response.status_code} {detail}"


def get_client() -> ArgoClient:
    """A client configured from settings (ARGO_SERVER, ARGO_TOKEN, ARGO_NAMESPACE, ...)."""
    return ArgoClient(ArgoConfig.from_settings())
