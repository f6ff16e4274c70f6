"""The one internal shape of a pipeline, whatever file it came from.

Importers produce a PipelineSpec; the renderer turns it into an Argo Workflow; the version stores
it as JSON (PipelineVersion.spec). Plain dataclasses so that the shape is easy to read and to test.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Parameter:
    """A runtime parameter of the pipeline (an Argo workflow argument)."""

    name: str
    type: str = "String"  # apps.pipelines.constants.ParameterType
    default: Any = None
    description: str = ""
    required: bool = False


@dataclass
class SecretRef:
    env_var: str
    name: str
    key: str


@dataclass
class VolumeMount:
    path: str
    pvc_name: str
    sub_path: str = ""
    read_only: bool = False


@dataclass
class Node:
    """One step of an Elyra pipeline: a notebook, a Python script or an R script."""

    id: str
    label: str
    kind: str  # "notebook" | "python" | "r"
    filename: str  # path of the node's file inside the bundle, "/"-separated
    runtime_image: str
    depends_on: list[str] = field(default_factory=list)
    cpu: float | None = None
    cpu_limit: float | None = None
    memory_gb: float | None = None
    memory_limit_gb: float | None = None
    gpu: int | None = None
    gpu_limit: int | None = None
    gpu_vendor: str = "nvidia.com/gpu"
    env: dict[str, str] = field(default_factory=dict)
    dependencies: list[str] = field(default_factory=list)  # globs, relative to the node's folder
    include_subdirectories: bool = False
    outputs: list[str] = field(default_factory=list)
    parameters: list[str] = field(default_factory=list)  # pipeline parameters this node receives
    secrets: list[SecretRef] = field(default_factory=list)
    volumes: list[VolumeMount] = field(default_factory=list)
    tolerations: list[dict[str, Any]] = field(default_factory=list)
    pod_labels: dict[str, str] = field(default_factory=dict)
    pod_annotations: dict[str, str] = field(default_factory=dict)
    shm_size: str = ""
    retries: int | None = None
    timeout_seconds: int | None = None


@dataclass
class PipelineSpec:
    name: str
    description: str = ""
    nodes: list[Node] = field(default_factory=list)
    parameters: list[Parameter] = field(default_factory=list)
    source_version: int | None = None  # Elyra format version the file was written in

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineSpec:
        nodes = []
        for raw in data.get("nodes", []):
            raw = dict(raw)
            raw["secrets"] = [SecretRef(**s) for s in raw.get("secrets", [])]
            raw["volumes"] = [VolumeMount(**v) for v in raw.get("volumes", [])]
            nodes.append(Node(**raw))
        return cls(
            name=data.get("name", ""),
            description=data.get("description", ""),
            nodes=nodes,
            parameters=[Parameter(**p) for p in data.get("parameters", [])],
            source_version=data.get("source_version"),
        )
