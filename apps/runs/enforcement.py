"""What a step asked of the machine that runs it, and what of that the engine honours.

The embedded engine's host executor runs a step's command as a local process: it does not pull
the image, nor limit CPU, memory or GPUs, nor place the step by node selector or tolerations.
The step panel says so, from here alone, so that a container executor changes one function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

# Resource names as the user reads them; anything else (nvidia.com/gpu, amd.com/gpu) is a GPU
# or another device and keeps its own name.
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


def not_enforced(asked: Requested) -> list[str]:
    """The requested things the configured engine ignores ([] on a real cluster)."""
    if not settings.ARGO_EMBEDDED:
        return []
    ignored = ["image"] if asked.image else []
    ignored += asked.resource_names
    if asked.node_selector:
        ignored.append("node selector")
    if asked.tolerations:
        ignored.append("tolerations")
    return ignored
