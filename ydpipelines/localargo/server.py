"""The Argo Server REST API subset, over the standard library's threading HTTP server.

Why the stdlib server: the engine must start anywhere the app runs with no extra service, the
API is plain JSON plus two streams, and one thread per connection is plenty for one machine.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import mimetypes
import re
import select
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import __version__
from .engine import Engine, parse_selector
from .events import watch_workflows
from .listing import archive_summary, field_selector, name_match, time_bounds, trim
from .store import to_json
from .validate import ApiError

API = "/api/v1"


def _param(query: dict[str, list[str]], name: str, default: str = "") -> str:
    values = query.get(name)
    return values[0] if values else default


def _bool(value: str) -> bool:
    return value.lower() in ("1", "true", "yes")


def paginate(items: list[Any], query: dict[str, list[str]]) -> tuple[list[Any], dict[str, Any]]:
    limit = int(_param(query, "listOptions.limit", "0") or 0)
    token = _param(query, "listOptions.continue")
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, f"invalid continue token {token!r}") from None
    meta: dict[str, Any] = {}
    if limit > 0:
        page = items[start : start + limit]
        if start + limit < len(items):
            meta["continue"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
            meta["remainingItemCount"] = len(items) - start - limit
        return page, meta
    return items[start:], meta


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "localargo"
    engine: Engine
    token: str | None = None
    server: Server
    # an idle kept-alive connection gives its thread back after this many seconds
    timeout = 60

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the app polls a lot
        pass

    # -- plumbing ----------------------------------------------------------------------

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", (headers or {}).pop("Content-Type", "application/json"))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        raw = self._raw
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, f"request body is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        return body

    def _authorized(self) -> bool:
        if not self.token:
            return True
        given = self.headers.get("Authorization", "")
        if given.startswith("Bearer "):
            given = given[7:]
        return hmac.compare_digest(given.strip(), self.token)

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        parts = [unquote(p) for p in url.path.strip("/").split("/") if p]
        # Read the whole body up front: on a kept-alive connection an unread body would be
        # taken for the next request.
        length = int(self.headers.get("Content-Length") or 0)
        self._raw = self.rfile.read(length) if length > 0 else b""
        try:
            if not self._authorized():
                raise ApiError(
                    401, "token not valid. see https://argo-workflows.readthedocs.io/en/latest/faq/"
                )
            self._route(parts, query)
        except ApiError as exc:
            self._send(exc.status, exc.body())
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # an engine bug answers 500 with the reason, not a hung client
            self._send(500, {"code": 13, "message": f"{type(exc).__name__}: {exc}"})

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch

    # -- routes ------------------------------------------------------------------------

    def _route(self, parts: list[str], query: dict[str, list[str]]) -> None:
        method = self.command
        e = self.engine
        if parts[:1] == ["artifact-files"] and len(parts) == 7:
            return self._artifact_file(parts[1:], method)
        if parts[:1] in (["artifacts-by-uid"], ["input-artifacts-by-uid"]) and len(parts) == 4:
            kind = "outputs" if parts[0] == "artifacts-by-uid" else "inputs"
            with e.lock:
                data, name = e.artifact(e.archived(parts[1]), parts[2], kind, parts[3])
            return self._file(data, name)
        if parts[:1] in (["artifacts"], ["input-artifacts"]) and len(parts) == 5:
            kind = "outputs" if parts[0] == "artifacts" else "inputs"
            with e.lock:
                wf = e.get_workflow(parts[1], parts[2])
                data, name = e.artifact(wf, parts[3], kind, parts[4])
            return self._file(data, name)
        if parts[:2] != ["api", "v1"] or len(parts) < 3:
            raise ApiError(404, f"no route for {self.path}", "NotFound")
        res, rest = parts[2], parts[3:]
        if res == "version" and method == "GET":
            return self._send(200, version())
        if res == "info" and method == "GET":
            return self._send(200, {"managedNamespace": "", "links": [], "modals": {}})
        if res == "userinfo" and method == "GET":
            return self._send(200, {"subject": "localargo"})
        if res == "workflows":
            return self._workflows(method, rest, query)
        if res == "cron-workflows":
            return self._cron(method, rest, query)
        if res in ("workflow-templates", "cluster-workflow-templates"):
            return self._templates(res, method, rest, query)
        if res == "archived-workflows":
            if not rest and urlsplit(self.path).path.endswith("/") and method != "GET":
                raise ApiError(404, f"no route for {method} {self.path}", "NotFound")
            if not rest and urlsplit(self.path).path.endswith("/"):
                rest = [""]  # ``archived-workflows/`` is a get with an empty uid, not the list
            return self._archived(method, rest, query)
        if res in ("archived-workflows-label-keys", "archived-workflows-label-values"):
            if rest or method != "GET":
                raise ApiError(404, f"no route for {method} {self.path}", "NotFound")
            return self._label_index(res.endswith("keys"), query)
        if res == "workflow-events" and len(rest) <= 1 and method == "GET":
            return self._watch(rest[0] if rest else "", query)
        if res == "stream" and rest[:1] == ["events"]:
            # Kubernetes events of workflows: the engine records none (see docs/engine.md)
            raise ApiError(404, "unsupported: Kubernetes events (stream/events)", "NotFound")
        if res == "localargo" and rest[:1] == ["configmaps"] and len(rest) == 3 and method == "PUT":
            body = self._body()
            e.set_configmap(rest[1], rest[2], body.get("data") or {})
            return self._send(200, {"metadata": {"name": rest[2], "namespace": rest[1]}, **body})
        raise ApiError(404, f"no route for {method} {self.path}", "NotFound")

    def _workflows(self, method: str, rest: list[str], query: dict[str, list[str]]) -> None:
        e = self.engine
        if len(rest) == 1 and method == "POST":
            body = self._body()
            wf = body.get("workflow")
            if not isinstance(wf, dict):
                raise ApiError(400, "workflow is required")
            dry = bool(body.get("serverDryRun")) or "All" in (
                (body.get("createOptions") or {}).get("dryRun") or []
            )
            return self._send(200, e.create_workflow(rest[0], wf, dry_run=dry))
        if len(rest) == 1 and method == "GET":
            return self._list(rest[0], query)
        if len(rest) == 2 and rest[1] == "submit" and method == "POST":
            return self._send(200, self._submit(rest[0], self._body()))
        if len(rest) == 2 and rest[1] == "lint" and method == "POST":
            wf = self._body().get("workflow")
            if not isinstance(wf, dict):
                raise ApiError(400, "unable to get a workflow")
            return self._send(200, e.lint_workflow(rest[0], wf))
        if len(rest) == 2 and method == "GET":
            return self._send(200, self._get_workflow(rest[0], rest[1], _param(query, "fields")))
        if len(rest) == 2 and method == "DELETE":
            e.delete_workflow(rest[0], rest[1])
            return self._send(200, {})
        if len(rest) == 3 and rest[2] == "log" and method == "GET":
            return self._logs(rest[0], rest[1], _param(query, "podName") or None, query)
        if len(rest) == 4 and rest[3] == "log" and method == "GET":
            return self._logs(rest[0], rest[1], rest[2], query)
        if len(rest) == 3 and method == "PUT":
            ns, name, action = rest
            body = self._body()
            if action == "stop":
                if body.get("nodeFieldSelector"):
                    raise ApiError(400, "unsupported: stop with nodeFieldSelector")
                return self._send(200, e.shutdown(ns, name, "Stop", body.get("message") or ""))
            if action == "terminate":
                return self._send(200, e.shutdown(ns, name, "Terminate"))
            if action == "suspend":
                return self._send(200, e.suspend(ns, name))
            if action == "resume":
                return self._send(200, e.resume(ns, name, body.get("nodeFieldSelector") or ""))
            if action == "retry":
                return self._send(200, e.retry(ns, name, **retry_options(body)))
            if action == "resubmit":
                return self._send(200, e.resubmit(ns, name, **resubmit_options(body)))
            if action == "set":
                return self._send(200, e.set_nodes(ns, name, **set_options(body)))
        raise ApiError(404, f"no route for {method} {self.path}", "NotFound")

    def _get_workflow(self, ns: str, name: str, fields: str) -> bytes:
        e = self.engine
        with e.reading() as live:
            wf = e.get_workflow(ns, name, committed=not live)
            if not fields:
                # the JSON last written is this very version when nothing changed since
                found = e.store.committed_json("workflows", e._ns(ns), name)
                if found and found[0] == wf["metadata"].get("resourceVersion"):
                    return found[1]
            return to_json(trim(wf, fields) if fields else wf)

    def _list(self, ns: str, query: dict[str, list[str]]) -> None:
        e = self.engine
        selector = _param(query, "listOptions.labelSelector")
        fields = _param(query, "fields")
        match = list_filter(query)
        times = time_bounds(_param(query, "createdAfter"), _param(query, "finishedBefore"))
        with e.reading() as live:
            found = e.list_workflows(ns, selector, committed=not live)
            items = [w for w in found if match(w) and times(w)]
            page, meta = paginate(items, query)
            meta["resourceVersion"] = e.store.next_version() if live else e.store.version()
            body = {"metadata": meta, "items": page}
            if fields:
                body = trim(body, fields, "list")
            data = to_json(body)
        self._send(200, data)

    def _watch(self, ns: str, query: dict[str, list[str]]) -> None:
        with self._stream_slot():
            # bad selectors fail before the stream starts, with a plain error body
            field_selector(_param(query, "listOptions.fieldSelector"))
            parse_selector(_param(query, "listOptions.labelSelector"))
            name = _watched_name(_param(query, "listOptions.fieldSelector"))
            if name:  # the UI's single-workflow watch: 404 at once if there is none (as Argo)
                with self.engine.lock:
                    self.engine.get_workflow(ns, name)
            self._start_stream(200)
            try:
                watch_workflows(
                    self.engine, ns, query, self._chunk, self._keepalive, self._client_gone
                )
            except ApiError as exc:
                self._chunk(exc.frame())
            self._end_stream()

    def _label_index(self, keys: bool, query: dict[str, list[str]]) -> None:
        """Archived-workflow label keys, or the values of the key named by labelSelector."""
        ns = _param(query, "namespace")
        key = _param(query, "listOptions.labelSelector")
        if not keys and not key:
            raise ApiError(400, "listOptions.labelSelector (the label key) is required")
        found: set[str] = set()
        with self.engine.lock:
            for wf in self.engine.store.items("archive", ns or None):
                labels = wf["metadata"].get("labels") or {}
                if keys:
                    found.update(labels)
                elif key in labels:
                    found.add(labels[key])
        self._send(200, {"items": sorted(found)})

    def _submit(self, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        e = self.engine
        kind = body.get("resourceKind", "")
        name = body.get("resourceName", "")
        opts = body.get("submitOptions") or {}
        if kind.lower() in ("cronworkflow", "cronwf", "cron-workflow"):
            if e.cron is None:
                raise ApiError(500, "cron scheduler is not running")
            wf = e.cron.workflow_from(ns, name, manual=True)
        elif kind.lower() in ("workflowtemplate", "clusterworkflowtemplate"):
            cluster = kind.lower().startswith("cluster")
            store_kind = "clusterworkflowtemplates" if cluster else "workflowtemplates"
            if e.store.get(store_kind, "" if cluster else (ns or "default"), name) is None:
                raise ApiError(404, f"{kind} {name!r} not found", "NotFound")
            wf = {
                "metadata": {
                    "generateName": f"{name}-",
                    "labels": {"workflows.argoproj.io/workflow-template": name},
                },
                "spec": {"workflowTemplateRef": {"name": name, "clusterScope": cluster}},
            }
        else:
            raise ApiError(400, f"resourceKind {kind!r} cannot be submitted")
        meta = wf.setdefault("metadata", {})
        if opts.get("name"):
            meta["name"] = opts["name"]
            meta.pop("generateName", None)
        elif opts.get("generateName"):
            meta["generateName"] = opts["generateName"]
        for pair in filter(None, (opts.get("labels") or "").split(",")):
            k, _, v = pair.partition("=")
            meta.setdefault("labels", {})[k] = v
        spec = wf.setdefault("spec", {})
        if opts.get("entryPoint"):
            spec["entrypoint"] = opts["entryPoint"]
        given = []
        for pair in opts.get("parameters") or []:
            k, _, v = pair.partition("=")
            given.append({"name": k, "value": v})
        if given:
            args = spec.setdefault("arguments", {})
            params = {p["name"]: p for p in args.get("parameters", [])}
            for p in given:
                params[p["name"]] = {**params.get(p["name"], {}), **p}
            args["parameters"] = list(params.values())
        dry = bool(opts.get("dryRun") or opts.get("serverDryRun"))
        return e.create_workflow(ns, wf, dry_run=dry)

    def _logs(self, ns: str, name: str, pod: str | None, query: dict[str, list[str]]) -> None:
        """Argo's log stream: one ``{"result": {...}}`` line per log line. An error is one
        ``{"error": {...}}`` line, as grpc-gateway sends it: with the error's HTTP status when
        nothing was sent yet (no such workflow or pod), else at the end of a 200 stream."""
        follow = _bool(_param(query, "logOptions.follow", "false"))
        tail_raw = _param(query, "logOptions.tailLines")
        grep = _param(query, "grep")
        # bad query values fail before the stream, with the plain error body (as Argo's do)
        try:
            tail = int(tail_raw) if tail_raw else None
        except ValueError:
            raise ApiError(400, f"logOptions.tailLines {tail_raw!r} is not an integer") from None
        try:
            pattern = re.compile(grep) if grep else None
        except re.error as exc:
            raise ApiError(400, f"grep {grep!r} is not a valid regular expression: {exc}") from None
        with self._stream_slot():
            self._log_stream(ns, name, pod, follow, tail, pattern)

    def _log_stream(self, ns, name, pod, follow, tail, pattern) -> None:
        try:
            stream = self.engine.logs(ns, name, pod, follow, tail)
        except ApiError as exc:
            self._start_stream(exc.status)
            self._chunk(exc.frame())
            self._end_stream()
            return
        self._start_stream(200)
        try:
            for entry in stream:
                if entry is None:  # a quiet followed log: stop if the client has gone
                    if self._client_gone():
                        return
                    self._keepalive()
                    continue
                if pattern and not pattern.search(entry["content"]):
                    continue
                self._chunk({"result": entry})
        except ApiError as exc:
            self._chunk(exc.frame())
        except (BrokenPipeError, ConnectionResetError):
            raise
        except Exception as exc:  # an engine fault ends the stream with Argo's Internal error
            self._chunk(ApiError(500, f"{type(exc).__name__}: {exc}").frame())
        self._end_stream()

    def _wants_sse(self) -> bool:
        return "text/event-stream" in self.headers.get("Accept", "")

    @contextlib.contextmanager
    def _stream_slot(self) -> Iterator[None]:
        """A stream (log or watch) holds a thread for long: past the bound it is refused
        with 429 before anything is sent, and the client may retry later."""
        if not self.server.streams.acquire(blocking=False):
            raise ApiError(429, f"too many open streams ({self.server.max_streams}); retry later")
        try:
            yield
        finally:
            self.server.streams.release()

    def _start_stream(self, status: int) -> None:
        """Argo's streams: newline-delimited JSON, or Server-Sent Events when the client
        asks for ``text/event-stream`` (as Argo's UI and EventSource do)."""
        self._sse = self._wants_sse()
        self.send_response(status)
        self.send_header("Content-Type", "text/event-stream" if self._sse else "application/json")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def _chunk(self, obj: dict[str, Any] | str) -> None:
        text = obj if isinstance(obj, str) else json.dumps(obj)
        line = (f"data: {text}\n\n" if self._sse else text + "\n").encode()
        self._write_chunk(line)

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _keepalive(self) -> None:
        if self._sse:  # an SSE comment: ignored by EventSource, keeps proxies and us honest
            self._write_chunk(b": keep-alive\n\n")

    def _client_gone(self) -> bool:
        """The peer closed its end: its socket reads EOF (a request body was read up front)."""
        try:
            ready, _, _ = select.select([self.connection], [], [], 0)
            if not ready:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def _artifact_file(self, parts: list[str], method: str) -> None:
        ns, discriminator, ident, node_id, kind, art = parts
        e = self.engine
        if kind not in ("outputs", "inputs"):
            raise ApiError(400, f"artifactDiscriminator must be outputs or inputs, not {kind}")
        with e.lock:
            if discriminator == "workflow" or discriminator == "workflows":
                try:
                    wf = e.get_workflow(ns, ident)
                except ApiError:
                    wf = next(
                        (a for a in e.store.items("archive", ns) if a["metadata"]["name"] == ident),
                        None,
                    )
                    if wf is None:
                        raise
            elif discriminator in ("archived-workflow", "archived-workflows"):
                wf = e.archived(ident)
            else:
                raise ApiError(400, f"unknown idDiscriminator {discriminator}")
            data, name = e.artifact(wf, node_id, kind, art)
        self._file(data, name)

    def _file(self, data: bytes, name: str) -> None:
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if name.endswith(".tgz"):
            ctype = "application/gzip"
        self._send(
            200,
            data,
            {"Content-Type": ctype, "Content-Disposition": f'filename="{name}"'},
        )

    def _cron(self, method: str, rest: list[str], query: dict[str, list[str]]) -> None:
        c = self.engine.cron
        if c is None:
            raise ApiError(500, "cron scheduler is not running")
        if len(rest) == 1 and method == "POST":
            body = self._body()
            return self._send(200, c.create(rest[0], body.get("cronWorkflow") or {}))
        if len(rest) == 1 and method == "GET":
            with self.engine.lock:
                items = [
                    x
                    for x in self.engine.store.items("cronworkflows", rest[0] or None)
                    if parse_selector(_param(query, "listOptions.labelSelector"))(x)
                ]
                page, meta = paginate(sorted(items, key=lambda x: x["metadata"]["name"]), query)
                return self._send(200, json.loads(json.dumps({"metadata": meta, "items": page})))
        if len(rest) == 2 and rest[1] == "lint" and method == "POST":
            return self._send(200, c.lint(rest[0], self._body().get("cronWorkflow") or {}))
        if len(rest) == 2 and method == "GET":
            return self._send(200, c.get(rest[0], rest[1]))
        if len(rest) == 2 and method == "PUT":
            body = self._body()
            return self._send(200, c.update(rest[0], rest[1], body.get("cronWorkflow") or {}))
        if len(rest) == 2 and method == "DELETE":
            c.delete(rest[0], rest[1])
            return self._send(200, {})
        if len(rest) == 3 and method == "PUT" and rest[2] in ("suspend", "resume"):
            return self._send(200, c.set_suspend(rest[0], rest[1], rest[2] == "suspend"))
        raise ApiError(404, f"no route for {method} {self.path}", "NotFound")

    def _templates(self, res: str, method: str, rest: list[str], query) -> None:
        e = self.engine
        cluster = res.startswith("cluster")
        kind = "clusterworkflowtemplates" if cluster else "workflowtemplates"
        key = "template"
        if not cluster:
            if not rest:
                raise ApiError(404, "namespace required", "NotFound")
            ns, rest = rest[0], rest[1:]
        else:
            ns = ""
        if not rest and method == "POST":
            tmpl = e.lint_template(kind, ns, self._template_body(cluster))
            return self._send(200, e.put_template(kind, ns, tmpl, update=False))
        if rest == ["lint"] and method == "POST":
            return self._send(200, e.lint_template(kind, ns, self._template_body(cluster)))
        if not rest and method == "GET":
            labels = parse_selector(_param(query, "listOptions.labelSelector"))
            fields = field_selector(_param(query, "listOptions.fieldSelector"))
            pattern = _param(query, "namePattern")
            with e.lock:
                items = sorted(
                    (
                        x
                        for x in e.store.items(kind, ns or None)
                        if labels(x) and fields(x) and pattern in x["metadata"]["name"]
                    ),
                    key=lambda x: x["metadata"]["name"],
                )
                page, meta = paginate(items, query)
                return self._send(200, json.dumps({"metadata": meta, "items": page}).encode())
        if len(rest) == 1 and method == "GET":
            obj = e.store.get(kind, ns, rest[0])
            if obj is None:
                raise ApiError(404, f'{res} "{rest[0]}" not found', "NotFound")
            return self._send(200, obj)
        if len(rest) == 1 and method == "PUT":
            tmpl = self._body().get(key)
            if not isinstance(tmpl, dict):
                raise ApiError(400, f"{key} is required")
            tmpl = e.lint_template(kind, ns, tmpl)  # an update is checked as a create is
            tmpl["metadata"] = {**(tmpl.get("metadata") or {}), "name": rest[0]}
            return self._send(200, e.put_template(kind, ns, tmpl, update=True))
        if len(rest) == 1 and method == "DELETE":
            with e.lock:
                if e.store.delete(kind, ns, rest[0]) is None:
                    raise ApiError(404, f'{res} "{rest[0]}" not found', "NotFound")
            return self._send(200, {})
        raise ApiError(404, f"no route for {method} {self.path}", "NotFound")

    def _template_body(self, cluster: bool) -> dict[str, Any]:
        tmpl = self._body().get("template")
        if not isinstance(tmpl, dict):
            raise ApiError(400, "template is required")
        tmpl["kind"] = "ClusterWorkflowTemplate" if cluster else "WorkflowTemplate"
        tmpl.setdefault("apiVersion", "argoproj.io/v1alpha1")
        return tmpl

    def _archived(self, method: str, rest: list[str], query) -> None:
        e = self.engine
        if not rest and method == "GET":
            labels = parse_selector(_param(query, "listOptions.labelSelector"))
            match = list_filter(query)
            with e.lock:
                items = [
                    x
                    for x in e.store.items("archive", _param(query, "namespace") or None)
                    if labels(x) and match(x)
                ]
                items.sort(
                    key=lambda w: (w["status"].get("startedAt") or "", w["metadata"]["name"]),
                    reverse=True,
                )
                page, meta = paginate(items, query)
                page = [archive_summary(x) for x in page]
                return self._send(200, json.dumps({"metadata": meta, "items": page}).encode())
        if len(rest) == 2 and method == "PUT" and rest[1] in ("retry", "resubmit"):
            body = self._body()
            if rest[1] == "retry":
                return self._send(200, e.retry_archived(rest[0], **retry_options(body)))
            return self._send(200, e.resubmit_archived(rest[0], **resubmit_options(body)))
        if len(rest) == 1 and method == "GET":
            uid = rest[0]
            with e.lock:
                if not uid:  # Argo looks the workflow up by namespace and name, else not found
                    return self._send(200, e.archived_by_name(query))
                return self._send(200, e.archived(uid))
        if len(rest) == 1 and method == "DELETE":
            with e.lock:
                wf = e.archived(rest[0])
                e.store.delete("archive", wf["metadata"]["namespace"], rest[0])
            return self._send(200, {})
        raise ApiError(404, f"no route for {method} {self.path}", "NotFound")


def list_filter(query: dict[str, list[str]]):
    """Field selector, ``nameFilter`` and ``namePrefix`` of a workflow or archive list."""
    fields = field_selector(_param(query, "listOptions.fieldSelector"), _param(query, "nameFilter"))
    prefix = _param(query, "namePrefix")
    by_prefix = name_match("Prefix", prefix) if prefix else None
    return lambda wf: fields(wf) and (by_prefix is None or by_prefix(wf))


def _watched_name(selector: str) -> str:
    for req in selector.split(","):
        key, _, value = req.strip().partition("=")
        if key == "metadata.name" and not value.startswith("="):
            return value
        if key == "metadata.name" and value.startswith("="):
            return value[1:]
    return ""


def _strings(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, f"{name} must be a list of NAME=VALUE strings")
    for v in value:
        if "=" not in v:
            raise ApiError(400, f"{name}: expected NAME=VALUE, received: {v}")
    return value


def retry_options(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "restart_successful": bool(body.get("restartSuccessful")),
        "node_selector": str(body.get("nodeFieldSelector") or ""),
        "parameters": _strings(body, "parameters"),
    }


def resubmit_options(body: dict[str, Any]) -> dict[str, Any]:
    if body.get("memoized"):
        raise ApiError(400, "unsupported: memoized (resubmit re-runs every step)")
    return {"parameters": _strings(body, "parameters")}


def set_options(body: dict[str, Any]) -> dict[str, Any]:
    phase = body.get("phase") or ""
    if phase not in ("", "Succeeded", "Failed", "Error"):
        raise ApiError(400, f"{phase} is an invalid phase to set to")
    outputs: dict[str, str] = {}
    raw = body.get("outputParameters") or ""
    if raw:
        try:
            outputs = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, f"unable to parse output parameter set request: {exc}") from None
        if not isinstance(outputs, dict) or not all(isinstance(v, str) for v in outputs.values()):
            raise ApiError(400, "outputParameters must be a JSON object of strings")
    return {
        "node_selector": str(body.get("nodeFieldSelector") or ""),
        "phase": phase,
        "message": str(body.get("message") or ""),
        "outputs": outputs,
    }


def version() -> dict[str, str]:
    return {
        "version": f"v4.1.2+localargo.{__version__}",
        "buildDate": "2026-01-01T00:00:00Z",
        "gitCommit": "localargo",
        "gitTag": "v4.1.2",
        "gitTreeState": "clean",
        "goVersion": "python",
        "compiler": "cpython",
        "platform": "linux/amd64",
    }


BUSY = json.dumps({"code": 14, "message": "the engine is at its connection limit; retry"})


class Server(ThreadingHTTPServer):
    """One thread per connection, but at most ``max_connections`` of them: past that a new
    connection is answered 503 at once (from the accepting thread) and closed, so a client
    that re-requests in a loop cannot make the engine spawn threads without bound. Streams
    (logs, watches) have their own, smaller bound (429), so they cannot starve plain calls."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, handler, max_connections: int = 128, max_streams: int = 32):
        super().__init__(address, handler)
        self.max_connections = max_connections
        self.max_streams = max_streams
        self._connections = threading.BoundedSemaphore(max_connections)
        self.streams = threading.BoundedSemaphore(max_streams)

    def process_request(self, request, client_address) -> None:
        if not self._connections.acquire(blocking=False):
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._connections.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()

    def _refuse(self, request: socket.socket) -> None:
        body = BUSY.encode()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            request.settimeout(1)
            request.sendall(head.encode() + body)
        self.shutdown_request(request)


def make_server(
    engine: Engine,
    host: str,
    port: int,
    token: str | None,
    max_connections: int = 128,
    max_streams: int = 32,
) -> Server:
    handler = type("BoundHandler", (Handler,), {"engine": engine, "token": token or None})
    return Server((host, port), handler, max_connections, max_streams)


def serve(engine: Engine, host: str, port: int, token: str | None) -> None:
    server = make_server(engine, host, port, token)
    engine.start()
    threading.current_thread().name = "http"
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        engine.stop()
