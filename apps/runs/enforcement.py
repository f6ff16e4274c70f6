"""What a step asked of the machine that runs it, and what of that the engine honours.

The embedded engine's host executor runs a step's command as a local process: it does not use
the image, nor limit CPU, memory or GPUs, nor place the step by node selector or tolerations.
It says so on each step (the node's message while it runs, and the first line of its log:
"image X not used: <why>"); its container executor uses the image and limits CPU and memory.
The step panel tells the user from here alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

# Resource names as the user reads them; anything else (nvidia.com/gpu, amd.com/gpu) is a GPU
# or another device and keeps its own name.
# What the engine's host executor reports on a step (localargo/engine.py image_note).
NOT_USED = re.compile(r"^image (?P<image>\S+) not used: (?P<why>[^\n]+)")
_ENFORCED_IN_CONTAINERS = ("cpu", "memory")
_PLAIN = {"cpu": "cpu", "memory": "memory", "ephemeral-storage": "ephemeral storage"}


@dataclass
class Requested:
    image: str = ""
    resources: dict[str, dict[str, str]] = field(default_factory=dict)  # requests/limits
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def resource_names(self) -> list[str]:
        """cpu, memory, gpu... in the order first asked for, each once."""
        names: list[str] = []
        for values in self.resources.values():
            for name in values or {}:
                plain = _PLAIN.get(name, "gpu" if name.endswith("/gpu") else name)
                if plain not in names:
                    names.append(plain)
        return names

    def __bool__(self) -> bool:
        return bool(self.image or self.resources or self.node_selector or self.tolerations)


def requested(template: dict[str, Any]) -> Requested:
    """What a container or script template asks for."""
    container = template.get("container") or template.get("script") or {}
    resources = container.get("resources") or {}
    return Requested(
        image=str(container.get("image") or ""),
        resources={
            kind: {str(k): str(v) for k, v in (resources.get(kind) or {}).items()}
            for kind in ("requests", "limits")
            if resources.get(kind)
        },
        node_selector={str(k): str(v) for k, v in (template.get("nodeSelector") or {}).items()},
        tolerations=[t for t in template.get("tolerations") or [] if isinstance(t, dict)],
    )


def engine_note(message: str, log: str = "") -> str | None:
    """The engine's "image X not used: why" for a step, from its message or its log's first
    line; "" when the step ran and said nothing (a container executor), None when unknown."""
    for text in (message, log):
        match = NOT_USED.match(text or "")
        if match:
            return match.group(0)
    return "" if log else None


def not_enforced(asked: Requested, note: str | None = None) -> list[str]:
    """The requested things the configured engine ignores ([] on a real cluster). ``note``:
    what the engine reported of the step (engine_note); unknown (None) counts as the host
    executor, which ignores the most."""
    if not settings.ARGO_EMBEDDED:
        return []
    in_container = note == ""
    ignored = ["image"] if asked.image and not in_container else []
    ignored += [
        name
        for name in asked.resource_names
        if not (in_container and name in _ENFORCED_IN_CONTAINERS)
    ]
    if asked.node_selector:
        ignored.append("node selector")
    if asked.tolerations:
        ignored.append("tolerations")
    return ignored
