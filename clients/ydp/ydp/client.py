"""A small client of the ydpipelines REST API (/api/v1/) over urllib."""

from __future__ import annotations

import json
import mimetypes
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

USER_AGENT = "ydp/0.1"


class ApiError(Exception):
    """The server refused (status, message, field) or could not be reached (status 0)."""

    def __init__(self, status: int, message: str, field: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def __str__(self) -> str:
        where = f" ({self.field})" if self.field and self.field not in self.message else ""
        return f"{self.message}{where}"


class Client:
    def __init__(self, url: str, token: str, *, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    # -- transport ------------------------------------------------------------------------

    def _open(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        query = urllib.parse.urlencode(
            [(k, v) for k, v in (params or {}).items() if v not in (None, "")], doseq=True
        )
        url = f"{self.url}/api/v1{path}" + (f"?{query}" if query else "")
        request = urllib.request.Request(url, data=body, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("User-Agent", USER_AGENT)
        request.add_header("Accept", "application/json")
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            return urllib.request.urlopen(request, timeout=timeout or self.timeout)
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                data = json.loads(raw)
                message, field = str(data.get("message")), str(data.get("field") or "")
            except (ValueError, AttributeError):
                message, field = f"HTTP {exc.code} from {url}", ""
            raise ApiError(exc.code, message, field) from None
        except urllib.error.URLError as exc:
            raise ApiError(0, f"cannot reach {self.url}: {exc.reason}") from None
        except TimeoutError:
            raise ApiError(
                0, f"{self.url} did not answer in {timeout or self.timeout:.0f} s"
            ) from None

    def request(self, method: str, path: str, *, params: Any = None, json_body: Any = None) -> Any:
        body = json.dumps(json_body).encode() if json_body is not None else None
        with self._open(
            method, path, params=params, body=body,
            content_type="application/json" if body is not None else None,
        ) as response:  # fmt: skip
            raw = response.read()
        return json.loads(raw) if raw else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, json_body=body if body is not None else {})

    # -- operations -----------------------------------------------------------------------

    def upload(
        self,
        filename: str,
        data: bytes,
        *,
        pipeline: str = "",
        version_name: str = "",
        description: str = "",
        project: str = "",
    ) -> dict[str, Any]:
        """A new version of pipeline `pipeline` (by name; created when new, in `project`, an
        id or slug, or the server's default for the token): the version."""
        fields = {"version_name": version_name, "description": description}
        existing = (
            self.get("/pipelines", name=pipeline, project=project)["items"] if pipeline else []
        )
        if existing:
            path = f"/pipelines/{existing[0]['id']}/versions"
        else:
            path = "/pipelines"
            fields["name"] = pipeline
            fields["project"] = project
        body, content_type = _multipart(fields, "file", filename, data)
        with self._open("POST", path, body=body, content_type=content_type) as response:
            return json.loads(response.read())

    def experiment(self, name: str, *, create: bool = True, project: str = "") -> dict[str, Any]:
        """The experiment of that name (or id), created when new if `create` (in `project`,
        an id or slug, or the server's default for the token)."""
        found = self.get("/experiments", name=name, project=project)
        if found:
            return found[0]
        if not create:
            raise ApiError(404, f"No experiment “{name}”.", "experiment")
        return self.post("/experiments", {"name": name, "project": project})

    def start_run(
        self, version: str, experiment: str, parameters: dict[str, Any], name: str = ""
    ) -> dict[str, Any]:
        return self.post(
            "/runs",
            {"version": version, "experiment": experiment, "parameters": parameters, "name": name},
        )

    def run(self, run_id: str) -> dict[str, Any]:
        return self.get(f"/runs/{run_id}")

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        return self.get(f"/runs/{run_id}/steps")

    def log(self, run_id: str, step_id: int) -> str:
        with self._open("GET", f"/runs/{run_id}/steps/{step_id}/log") as response:
            return response.read().decode("utf-8", "replace")

    def follow_log(self, run_id: str, step_id: int) -> Iterator[str]:
        """The log's lines as the step writes them, to its end."""
        with self._open(
            "GET", f"/runs/{run_id}/steps/{step_id}/log", params={"follow": "true"}, timeout=3600
        ) as response:
            for raw in response:
                yield raw.decode("utf-8", "replace")

    def metrics(self, run_id: str) -> list[dict[str, Any]]:
        return self.get(f"/runs/{run_id}/metrics")

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        return self.get(f"/runs/{run_id}/artifacts")

    def download(self, run_id: str, artifact_id: int) -> tuple[str, bytes]:
        """(the file name the server gives, the bytes)."""
        with self._open("GET", f"/runs/{run_id}/artifacts/{artifact_id}/download") as response:
            disposition = response.headers.get("Content-Disposition", "")
            return _filename(disposition), response.read()


def _multipart(
    fields: dict[str, str], file_field: str, filename: str, data: bytes
) -> tuple[bytes, str]:
    boundary = f"ydp-{secrets.token_hex(12)}"
    parts: list[bytes] = []
    for key, value in fields.items():
        if value:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'.encode()
                + value.encode()
                + b"\r\n"
            )
    media = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    safe = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{safe}"\r\nContent-Type: {media}\r\n\r\n'.encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _filename(disposition: str) -> str:
    """The file name of a Content-Disposition header (RFC 6266 filename* first)."""
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename*" and "''" in value:
            return urllib.parse.unquote(value.split("''", 1)[1])
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename":
            return value.strip('"')
    return ""
