"""``spec.templateDefaults``: Argo merges it into every template with a Kubernetes strategic
merge patch, the template's own fields winning, and keeps the template's type."""

from __future__ import annotations

import copy
from typing import Any

KINDS = (
    "container",
    "script",
    "dag",
    "steps",
    "suspend",
    "resource",
    "containerSet",
    "data",
    "http",
    "plugin",
)
# lists Kubernetes merges item by item (patchMergeKey), the others are replaced whole
MERGE_KEYS = {
    "env": "name",
    "volumeMounts": "mountPath",
    "volumes": "name",
    "ports": "containerPort",
    "volumeDevices": "devicePath",
    "tolerations": "key",
    "hostAliases": "ip",
    "imagePullSecrets": "name",
}


def with_defaults(tmpl: dict[str, Any], defaults: dict[str, Any] | None) -> dict[str, Any]:
    """tmpl over defaults; a default of another type (a container under a DAG) is dropped."""
    if not defaults:
        return tmpl
    merged = merge(copy.deepcopy(defaults), tmpl)
    own = next((k for k in KINDS if k in tmpl), None)
    if own is not None:
        for kind in KINDS:
            if kind != own:
                merged.pop(kind, None)
    return merged


def merge(base: Any, patch: Any, key: str = "") -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = merge(base[k], v, k) if k in base else copy.deepcopy(v)
        return out
    by = MERGE_KEYS.get(key)
    if by and isinstance(base, list) and isinstance(patch, list):
        # the patch's items first (in its order), then the defaults it does not name
        named = {item.get(by) for item in patch if isinstance(item, dict)}
        rest = [i for i in base if not (isinstance(i, dict) and i.get(by) in named)]
        olds = {i.get(by): i for i in base if isinstance(i, dict)}
        items = [merge(olds[i[by]], i) if i.get(by) in olds else i for i in patch]
        return copy.deepcopy(items) + rest
    return copy.deepcopy(patch)
