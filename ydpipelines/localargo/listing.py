"""List filters and response trimming as Argo Server applies them.

Field selectors, ``nameFilter``/``namePrefix``, time bounds and ``fields=`` live here so that
workflow, archived, template and watch lists all read them the same way.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .nodes import parse_iso
from .validate import ApiError

Match = Callable[[dict[str, Any]], bool]

# Keys a typed client (argo-workflows SDK, Hera) requires on an object it decodes (swagger
# ``required``): kept whole when the object is kept at all, even if ``fields=`` left them out.
IDENTITY_KEYS = ("id", "name", "type", "image", "source", "key", "url", "data", "action")
# Required containers: a Workflow needs metadata and spec, a list metadata and items.
OBJECT_REQUIRED = {"metadata": dict, "spec": dict}
LIST_REQUIRED = {"metadata": dict, "items": list}

NAME_FILTERS = ("", "Exact", "Prefix", "Contains", "NotEquals")


def trim(obj: Any, fields: str, kind: str = "object") -> Any:
    """Argo's ``fields=``: keep the listed dotted paths (all ``-a.b`` drops them instead).

    ``kind`` is "object" (a Workflow and the like) or "list"; either way what swagger marks
    required survives, as an empty value when it was not asked for, so typed clients decode it.
    """
    paths = [f.strip() for f in fields.split(",") if f.strip()]
    if not paths:
        return obj
    if all(p.startswith("-") for p in paths):
        result = copy.deepcopy(obj)
        for p in paths:
            _drop(result, p[1:].split("."))
    else:
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
        result = _keep(obj, tree)
    return with_required(result, kind)


def with_required(obj: Any, kind: str) -> Any:
    if not isinstance(obj, dict):
        return obj
    if kind == "list":
        for key, make in LIST_REQUIRED.items():
            obj.setdefault(key, make())
        for item in obj["items"] or []:
            with_required(item, "object")
    else:
        for key, make in OBJECT_REQUIRED.items():
            obj.setdefault(key, make())
    return obj


def _keep(obj: Any, tree: Any) -> Any:
    if tree is True:
        return obj
    if isinstance(obj, list):
        return [_keep(x, tree) for x in obj]
    if isinstance(obj, dict):
        kept = {k: _keep(v, tree[k]) for k, v in obj.items() if k in tree}
        if kept:  # a partly kept object keeps the scalars that identify it
            for key in IDENTITY_KEYS:
                if key in obj and key not in kept and not isinstance(obj[key], dict | list):
                    kept[key] = obj[key]
        return kept
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


def name_match(name_filter: str, pattern: str, negate: bool = False) -> Match:
    """``nameFilter`` (Exact by default, Prefix, Contains, NotEquals) over ``metadata.name``."""
    if name_filter not in NAME_FILTERS:
        raise ApiError(400, f"nameFilter {name_filter!r} must be one of Exact, Prefix, Contains")
    if negate or name_filter == "NotEquals":
        return lambda obj: _name(obj) != pattern
    if name_filter == "Prefix":
        return lambda obj: _name(obj).startswith(pattern)
    if name_filter == "Contains":
        return lambda obj: pattern in _name(obj)
    return lambda obj: _name(obj) == pattern


def _name(obj: dict[str, Any]) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def field_selector(selector: str, name_filter: str = "") -> Match:
    """``listOptions.fieldSelector`` as Argo Server reads it for workflows: ``metadata.name``
    (=, ==, !=; ``nameFilter`` says how ``=`` compares), ``metadata.namespace`` (=, ==, !=),
    ``spec.startedAt>``/``<`` (RFC 3339). Anything else is refused, as Argo does."""
    tests: list[Match] = []
    for req in filter(None, (r.strip() for r in selector.split(","))):
        for field in ("metadata.namespace", "metadata.name", "spec.startedAt"):
            if req.startswith(field):
                op_value = req[len(field) :]
                break
        else:
            raise ApiError(400, f"unsupported requirement {req}")
        op = next((o for o in ("!=", "==", "=", ">", "<") if op_value.startswith(o)), None)
        if op is None:
            raise ApiError(400, f"unsupported requirement {req}")
        value = op_value[len(op) :]
        if field == "metadata.name" and op in ("=", "==", "!="):
            tests.append(name_match(name_filter or "Exact", value, negate=op == "!="))
        elif field == "metadata.namespace" and op in ("=", "==", "!="):
            tests.append(_namespace_test(value, op == "!="))
        elif field == "spec.startedAt" and op in (">", "<"):
            tests.append(_started_test(_time(value, "spec.startedAt"), op))
        else:
            raise ApiError(400, f"unsupported requirement {req}")
    return lambda obj: all(t(obj) for t in tests)


def _namespace_test(value: str, negate: bool) -> Match:
    return lambda obj: ((obj.get("metadata") or {}).get("namespace", "") == value) != negate


def _started_test(bound: float, op: str) -> Match:
    def test(obj: dict[str, Any]) -> bool:
        started = parse_iso((obj.get("status") or {}).get("startedAt"))
        if started is None:
            return False
        return started > bound if op == ">" else started < bound

    return test


def _time(text: str, what: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ApiError(400, f"{what} {text!r} is not an RFC 3339 time") from None


def time_bounds(created_after: str, finished_before: str) -> Match:
    """``createdAfter`` / ``finishedBefore`` of the workflow list (RFC 3339); a workflow that
    has not finished is never "finished before"."""
    after = _time(created_after, "createdAfter") if created_after else None
    before = _time(finished_before, "finishedBefore") if finished_before else None

    def test(obj: dict[str, Any]) -> bool:
        if after is not None:
            created = parse_iso((obj.get("metadata") or {}).get("creationTimestamp"))
            if created is None or created <= after:
                return False
        if before is not None:
            finished = parse_iso((obj.get("status") or {}).get("finishedAt"))
            if finished is None or finished >= before:
                return False
        return True

    return test


def node_selector(selector: str) -> Callable[[dict[str, Any]], bool]:
    """A ``nodeFieldSelector`` (set, resume, stop, retry) over Argo's node fields:
    displayName, templateName, phase, name, id, templateRef.name/template and
    inputs.parameters.<name>.value; requirements are ``k=v``, ``k==v`` or ``k!=v``."""
    reqs = []
    for req in filter(None, (r.strip() for r in selector.split(","))):
        negate = "!=" in req
        key, _, value = req.partition("!=" if negate else "==" if "==" in req else "=")
        if not _ or not key.strip():
            raise ApiError(400, f"nodeFieldSelector: invalid requirement {req!r}")
        reqs.append((key.strip(), value.strip(), negate))

    def match(node: dict[str, Any]) -> bool:
        fields = {
            "displayName": node.get("displayName", ""),
            "templateName": node.get("templateName", ""),
            "phase": node.get("phase", ""),
            "name": node.get("name", ""),
            "id": node.get("id", ""),
        }
        ref = node.get("templateRef") or {}
        if ref:
            fields["templateRef.name"] = ref.get("name", "")
            fields["templateRef.template"] = ref.get("template", "")
        for p in (node.get("inputs") or {}).get("parameters") or []:
            fields[f"inputs.parameters.{p['name']}.value"] = str(p.get("value", ""))
        return all((fields.get(k, "") == v) != neg for k, v, neg in reqs)

    return match


# what Argo's archive list returns of each workflow (its database's summary columns): no spec,
# no nodes; GET /api/v1/archived-workflows/{uid} gives the whole workflow
ARCHIVE_META = ("name", "namespace", "uid", "creationTimestamp", "labels", "annotations")
ARCHIVE_STATUS = (
    "phase",
    "startedAt",
    "finishedAt",
    "estimatedDuration",
    "progress",
    "resourcesDuration",
    "message",
)


def archive_summary(wf: dict[str, Any]) -> dict[str, Any]:
    """An archived workflow as Argo's archive list shows it."""
    meta, status = wf.get("metadata") or {}, wf.get("status") or {}
    return {
        "metadata": {k: meta[k] for k in ARCHIVE_META if k in meta},
        "spec": {},
        "status": {k: status[k] for k in ARCHIVE_STATUS if k in status},
    }
