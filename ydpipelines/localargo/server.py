"""The Argo Server REST API subset, over the standard library's threading HTTP server.

Why the stdlib server: the engine must start anywhere the app runs with no extra service, the
API is plain JSON plus two streams, and one thread per connection is plenty for one machine.
"""

from __future__ import annotations

import base64
import copy
import hmac
import json
import mimetypes
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import __version__
from .engine import Engine, parse_selector
from .validate import ApiError

API = "/api/v1"


def trim(obj: Any, fields: str) -> Any:
    """Argo's ``fields=`` response trimming: keep the listed dotted paths (``-a.b`` drops)."""
    paths = [f.strip() for f in fields.split(",") if f.strip()]
    if not paths:
        return obj
    if all(p.startswith("-") for p in paths):
        result = copy.deepcopy(obj)
        for p in paths:
            _drop(result, p[1:].split("."))
        return result
    tree: dict[str, Any] = {}
    for p in paths:
        node = tree
        parts = p.lstrip("-").split(".")
        for part in parts[:-1]:
            nxt = node.setdefault(part, {})
            if nxt is True:
                break
            node = nxt
        else:
            node[parts[-1]] = True
    return _keep(obj, tree)


def _keep(obj: Any, tree: Any) -> Any:
    if tree is True:
        return obj
    if isinstance(obj, list):
        return [_keep(x, tree) for x in obj]
    if isinstance(obj, dict):
        return {k: _keep(v, tree[k]) for k, v in obj.items() if k in tree}
    return obj


def _drop(obj: Any, parts: list[str]) -> None:
    if isinstance(obj, list):
        for x in obj:
            _drop(x, parts)
    elif isinstance(obj, dict):
        if len(parts) == 1:
            obj.pop(parts[0], None)
        elif parts[0] in obj:
            _drop(obj[parts[0]], parts[1:])


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
            return self._archived(method, rest, query)
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
            wf = self._body().get("workflow") or {}
            return self._send(200, e.create_workflow(rest[0], wf, dry_run=True))
        if len(rest) == 2 and method == "GET":
            with e.lock:
                wf = e.get_workflow(rest[0], rest[1])
                fields = _param(query, "fields")
                data = json.dumps(trim(wf, fields) if fields else wf).encode()
            return self._send(200, data)
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
                return self._send(200, e.shutdown(ns, name, "Stop"))
            if action == "terminate":
                return self._send(200, e.shutdown(ns, name, "Terminate"))
            if action == "suspend":
                return self._send(200, e.suspend(ns, name))
            if action == "resume":
                return self._send(200, e.resume(ns, name))
            if action == "retry":
                return self._send(200, e.retry(ns, name))
            if action == "resubmit":
                return self._send(200, e.resubmit(ns, name))
            if action == "set":
                raise ApiError(501, "unsupported: set (node output values)") if body else None
        raise ApiError(404, f"no route for {method} {self.path}", "NotFound")

    def _list(self, ns: str, query: dict[str, list[str]]) -> None:
        e = self.engine
        selector = _param(query, "listOptions.labelSelector")
        fields = _param(query, "fields")
        name_filter = _param(query, "nameFilter")
        with e.lock:
            items = e.list_workflows(ns, selector)
            prefix = _param(query, "namePrefix")
            if prefix:
                items = [w for w in items if w["metadata"]["name"].startswith(prefix)]
            if name_filter == "Prefix" and prefix:
                pass
            page, meta = paginate(items, query)
            meta["resourceVersion"] = e.store.next_version()
            body = {"metadata": meta, "items": page}
            if fields:
                body = trim(body, fields)
                body.setdefault("items", [] if "items" in fields else body.get("items"))
            data = json.dumps(body).encode()
        self._send(200, data)

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

    def _start_stream(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, obj: dict[str, Any]) -> None:
        line = json.dumps(obj).encode() + b"\n"
        self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
        self.wfile.flush()

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
            body = self._body()
            tmpl = body.get(key) or {}
            from .validate import validate_spec

            validate_spec(tmpl.get("spec") or {}, "spec", need_entrypoint=False)
            tmpl["kind"] = "ClusterWorkflowTemplate" if cluster else "WorkflowTemplate"
            tmpl.setdefault("apiVersion", "argoproj.io/v1alpha1")
            return self._send(200, e.put_template(kind, ns, tmpl, update=False))
        if not rest and method == "GET":
            with e.lock:
                items = sorted(e.store.items(kind, ns or None), key=lambda x: x["metadata"]["name"])
                return self._send(200, json.loads(json.dumps({"metadata": {}, "items": items})))
        if len(rest) == 1 and method == "GET":
            obj = e.store.get(kind, ns, rest[0])
            if obj is None:
                raise ApiError(404, f'{res} "{rest[0]}" not found', "NotFound")
            return self._send(200, obj)
        if len(rest) == 1 and method == "PUT":
            tmpl = self._body().get(key) or {}
            tmpl.setdefault("metadata", {})["name"] = rest[0]
            return self._send(200, e.put_template(kind, ns, tmpl, update=True))
        if len(rest) == 1 and method == "DELETE":
            with e.lock:
                if e.store.delete(kind, ns, rest[0]) is None:
                    raise ApiError(404, f'{res} "{rest[0]}" not found', "NotFound")
            return self._send(200, {})
        raise ApiError(404, f"no route for {method} {self.path}", "NotFound")

    def _archived(self, method: str, rest: list[str], query) -> None:
        e = self.engine
        if not rest and method == "GET":
            with e.lock:
                items = e.store.items("archive", _param(query, "namespace") or None)
                items = [
                    x
                    for x in items
                    if parse_selector(_param(query, "listOptions.labelSelector"))(x)
                ]
                page, meta = paginate(items, query)
                return self._send(200, json.loads(json.dumps({"metadata": meta, "items": page})))
        if len(rest) == 1 and method == "GET":
            with e.lock:
                return self._send(200, e.archived(rest[0]))
        if len(rest) == 1 and method == "DELETE":
            with e.lock:
                wf = e.archived(rest[0])
                e.store.delete("archive", wf["metadata"]["namespace"], rest[0])
            return self._send(200, {})
        raise ApiError(404, f"no route for {method} {self.path}", "NotFound")


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


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(engine: Engine, host: str, port: int, token: str | None) -> Server:
    handler = type("BoundHandler", (Handler,), {"engine": engine, "token": token or None})
    return Server((host, port), handler)


def serve(engine: Engine, host: str, port: int, token: str | None) -> None:
    server = make_server(engine, host, port, token)
    engine.start()
    threading.current_thread().name = "http"
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        engine.stop()
