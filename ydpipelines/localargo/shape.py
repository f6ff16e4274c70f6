"""The JSON types of the Argo fields the engine reads, checked before anything reads them.

Kubernetes refuses a manifest whose field has the wrong type (``.spec.arguments.parameters:
expected list``); without this check such input reached the controller's code and answered
500. A schema is a Python type (or a tuple of them), ``[schema]`` for a list of that,
``{field: schema}`` for an object (fields not named are not checked), ``MapOf(schema)`` for
an object of any keys, or a function returning a schema (for recursion). A field that is
null is dropped first (``without_nulls``), as Go reads JSON null as the field's zero value.
"""

from __future__ import annotations

from typing import Any

from .validate import ApiError


class MapOf:
    def __init__(self, value: Any) -> None:
        self.value = value


STR, INT, BOOL = str, int, bool
INT_OR_STR = (int, str)
# AnyString (parameter values): Argo's decoder takes a JSON string, number or boolean
ANY_STRING = (str, int, float, bool)
NAMES = {str: "string", int: "integer", bool: "boolean", float: "number"}

REF = {"name": STR, "template": STR, "clusterScope": BOOL}
KEY_REF = {"name": STR, "key": STR, "optional": BOOL}
PARAMETER = {
    "name": STR,
    "value": ANY_STRING,
    "default": ANY_STRING,
    "enum": [ANY_STRING],
    "globalName": STR,
    "description": ANY_STRING,
    "valueFrom": {
        "path": STR,
        "default": ANY_STRING,
        "expression": STR,
        "parameter": STR,
        "jsonPath": STR,
        "jqFilter": STR,
        "event": STR,
        "supplied": dict,
        "configMapKeyRef": KEY_REF,
    },
}
ARTIFACT = {
    "name": STR,
    "path": STR,
    "from": STR,
    "fromExpression": STR,
    "globalName": STR,
    "subPath": STR,
    "optional": BOOL,
    "mode": INT,
    "raw": {"data": STR},
    "http": {"url": STR, "headers": [{"name": STR, "value": STR}]},
    "archive": dict,
}
ARGUMENTS = {"parameters": [PARAMETER], "artifacts": [ARTIFACT]}
METADATA = {
    "name": STR,
    "generateName": STR,
    "namespace": STR,
    "labels": MapOf(STR),
    "annotations": MapOf(STR),
}
CONTAINER = {
    "name": STR,
    "image": STR,
    "command": [STR],
    "args": [STR],
    "source": STR,
    "workingDir": STR,
    "env": [{"name": STR, "value": STR, "valueFrom": dict}],
    "envFrom": [dict],
    "volumeMounts": [
        {"name": STR, "mountPath": STR, "subPath": STR, "subPathExpr": STR, "readOnly": BOOL}
    ],
    "resources": {"limits": MapOf(INT_OR_STR), "requests": MapOf(INT_OR_STR)},
    "ports": [dict],
    "securityContext": dict,
}
RETRY = {
    "limit": INT_OR_STR,
    "retryPolicy": STR,
    "expression": STR,
    "backoff": {"duration": INT_OR_STR, "factor": INT_OR_STR, "maxDuration": INT_OR_STR},
    "affinity": dict,
}
SYNC = {
    "mutex": {"name": STR, "namespace": STR},
    "mutexes": [{"name": STR, "namespace": STR}],
    "semaphore": {"configMapKeyRef": KEY_REF},
    "semaphores": [{"configMapKeyRef": KEY_REF}],
}
VOLUME = {
    "name": STR,
    "emptyDir": {"medium": STR, "sizeLimit": INT_OR_STR},
    "persistentVolumeClaim": {"claimName": STR, "readOnly": BOOL},
    "secret": {"secretName": STR, "items": [dict], "defaultMode": INT, "optional": BOOL},
    "configMap": {"name": STR, "items": [dict], "defaultMode": INT, "optional": BOOL},
}
HOOK = {"template": STR, "templateRef": REF, "arguments": ARGUMENTS, "expression": STR}
SEQUENCE = {"count": INT_OR_STR, "start": INT_OR_STR, "end": INT_OR_STR, "format": STR}


def _template() -> dict[str, Any]:
    return TEMPLATE


TASK = {
    "name": STR,
    "template": STR,
    "templateRef": REF,
    "inline": _template,
    "arguments": ARGUMENTS,
    "when": STR,
    "withItems": list,
    "withParam": STR,
    "withSequence": SEQUENCE,
    "continueOn": {"failed": BOOL, "error": BOOL},
    "depends": STR,
    "dependencies": [STR],
    "hooks": MapOf(HOOK),
    "onExit": STR,
}
TEMPLATE = {
    "name": STR,
    "inputs": {"parameters": [PARAMETER], "artifacts": [ARTIFACT]},
    "outputs": {"parameters": [PARAMETER], "artifacts": [ARTIFACT], "result": STR},
    "container": CONTAINER,
    "script": CONTAINER,
    "steps": [[TASK]],
    "dag": {"tasks": [TASK], "target": STR, "failFast": BOOL},
    "suspend": {"duration": INT_OR_STR},
    "retryStrategy": RETRY,
    "metadata": {"labels": MapOf(STR), "annotations": MapOf(STR)},
    "timeout": STR,
    "activeDeadlineSeconds": INT_OR_STR,
    "volumes": [VOLUME],
    "nodeSelector": MapOf(STR),
    "synchronization": SYNC,
    "parallelism": INT,
    "failFast": BOOL,
    "serviceAccountName": STR,
    "tolerations": [dict],
    "affinity": dict,
    "securityContext": dict,
    "priority": INT,
}
SPEC = {
    "entrypoint": STR,
    "arguments": ARGUMENTS,
    "templates": [TEMPLATE],
    "templateDefaults": TEMPLATE,
    "volumes": [VOLUME],
    "volumeClaimTemplates": [{"metadata": METADATA, "spec": dict}],
    "onExit": STR,
    "hooks": MapOf(HOOK),
    "synchronization": SYNC,
    "retryStrategy": RETRY,
    "nodeSelector": MapOf(STR),
    "parallelism": INT,
    "activeDeadlineSeconds": INT,
    "workflowTemplateRef": {"name": STR, "clusterScope": BOOL},
    "workflowMetadata": {
        "labels": MapOf(STR),
        "annotations": MapOf(STR),
        "labelsFrom": MapOf({"expression": STR}),
    },
    "podGC": {"strategy": STR, "labelSelector": dict},
    "ttlStrategy": dict,
    "serviceAccountName": STR,
    "suspend": BOOL,
    "shutdown": STR,
    "priority": INT,
    "tolerations": [dict],
    "affinity": dict,
    "securityContext": dict,
    "podMetadata": {"labels": MapOf(STR), "annotations": MapOf(STR)},
}


def _kind(schema: Any) -> str:
    if isinstance(schema, list):
        return "list"
    if isinstance(schema, dict | MapOf) or schema is dict:
        return "object"
    if schema is list:
        return "list"
    types = schema if isinstance(schema, tuple) else (schema,)
    return " or ".join(NAMES.get(t, t.__name__) for t in types)


def _got(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return NAMES.get(type(value), type(value).__name__)


def _fits(value: Any, schema: Any) -> bool:
    if isinstance(schema, list) or schema is list:
        return isinstance(value, list)
    if isinstance(schema, dict | MapOf) or schema is dict:
        return isinstance(value, dict)
    types = schema if isinstance(schema, tuple) else (schema,)
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, float) and not value.is_integer():
        return float in types
    if isinstance(value, float):
        return float in types or int in types
    return isinstance(value, types)


def check_shape(value: Any, schema: Any, where: str) -> None:
    """Raise a 400 naming the first field whose JSON type is not the one Argo declares."""
    if callable(schema) and not isinstance(schema, type):
        schema = schema()
    if value is None:
        raise ApiError(400, f"{where}: expected {_kind(schema)}, got null")
    if not _fits(value, schema):
        raise ApiError(400, f"{where}: expected {_kind(schema)}, got {_got(value)}")
    if isinstance(schema, list):
        for i, item in enumerate(value):
            check_shape(item, schema[0], f"{where}[{i}]")
    elif isinstance(schema, MapOf):
        for key, item in value.items():
            check_shape(item, schema.value, f"{where}.{key}")
    elif isinstance(schema, dict):
        for key, sub in schema.items():
            if value.get(key) is not None:
                check_shape(value[key], sub, f"{where}.{key}")


def without_nulls(value: Any) -> Any:
    """A copy without the object fields that are null (absent, for Argo's Go decoder)."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def checked_resource(doc: Any, where: str = "") -> dict[str, Any]:
    """A Workflow or (Cluster)WorkflowTemplate body without its null fields, its ``metadata``
    and ``spec`` checked; 400 naming the first field of the wrong type."""
    if not isinstance(doc, dict):
        raise ApiError(400, f"{where or 'body'}: expected object, got {_got(doc)}")
    doc = without_nulls(doc)
    prefix = f"{where}." if where else ""
    if "metadata" in doc:
        check_shape(doc["metadata"], METADATA, f"{prefix}metadata")
    if "spec" in doc:
        check_shape(doc["spec"], SPEC, f"{prefix}spec")
    return doc
