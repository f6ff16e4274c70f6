"""GPUs as the Container Device Interface describes them: the machine's CDI spec files
(``/etc/cdi`` and ``/var/run/cdi``, or the folders given with ``--cdi-spec-dir``) name devices
by kind (``nvidia.com/gpu``, ``amd.com/gpu``, as ``nvidia-ctk cdi generate`` writes them); a
step whose resources ask for N of a kind gets N of its devices, each passed to the container
runtime as ``--device nvidia.com/gpu=<name>``, and gives them back when it ends. The scheduler
counts the same devices as the machine's capacity of that resource (scheduler.py).

A spec may name one GPU more than once (by index and by UUID, and ``all``): devices whose
device nodes (without any: whose edits) are the same are one GPU; ``all`` is never handed out.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEFAULT_DIRS = ("/etc/cdi", "/var/run/cdi")  # where CDI consumers (Podman, Docker) look
KINDS = ("nvidia.com/gpu", "amd.com/gpu")  # Kubernetes resource name = CDI kind


class CdiError(Exception):
    """A spec folder or file that cannot be used; the message says which and why."""


def read_specs(dirs: tuple[str, ...]) -> dict[str, list[str]]:
    """The GPU devices the spec files of ``dirs`` name, by kind, one name per GPU (the first
    a spec gives it). Folders that do not exist name none; a spec that does not parse raises
    CdiError naming it."""
    found: dict[str, list[str]] = {}
    seen: dict[str, set] = {}
    for folder in dirs:
        base = Path(folder)
        if not base.is_dir():
            continue
        for path in sorted(p for p in base.iterdir() if p.suffix in (".json", ".yaml", ".yml")):
            spec = _load(path)
            kind = spec.get("kind")
            if kind not in KINDS:
                continue
            for device in spec.get("devices") or []:
                if not isinstance(device, dict) or not device.get("name"):
                    raise CdiError(f"CDI spec {path}: a device without a name")
                name = str(device["name"])
                if name == "all":
                    continue
                edits = device.get("containerEdits") or {}
                nodes = tuple(sorted(str(n.get("path")) for n in edits.get("deviceNodes") or []))
                # without device nodes (a fake device), the same edits are the same device
                identity = nodes or (json.dumps(edits, sort_keys=True) if edits else name)
                if identity in seen.setdefault(kind, set()):
                    continue  # the same GPU by another name
                seen[kind].add(identity)
                found.setdefault(kind, []).append(name)
    return found


def _load(path: Path) -> dict:
    try:
        text = path.read_text()
        spec = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise CdiError(f"CDI spec {path} cannot be read: {exc}") from None
    if not isinstance(spec, dict):
        raise CdiError(f"CDI spec {path} is not a mapping")
    return spec


@dataclass
class Devices:
    """The GPUs of the machine's CDI specs, handed out to steps and given back."""

    free: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, asked: dict[str, float]) -> list[str]:
        """CDI names (``kind=name``) for the GPUs ``asked`` (by resource name), taken from the
        free ones. Raises CdiError, taking none, when a kind has too few."""
        wanted = {kind: int(asked[kind]) for kind in KINDS if asked.get(kind)}
        with self.lock:
            for kind, count in wanted.items():
                have = len(self.free.get(kind, []))
                if have < count:
                    raise CdiError(
                        f"{kind}: requested {count}, {have} free among the devices of this "
                        f"machine's CDI specs (give the engine a spec with --cdi-spec-dir, e.g. "
                        f"what `nvidia-ctk cdi generate` writes)"
                    )
            taken = []
            for kind, count in wanted.items():
                names, self.free[kind] = self.free[kind][:count], self.free[kind][count:]
                taken += [f"{kind}={name}" for name in names]
        return taken

    def hold(self, taken: list[str]) -> None:
        """Mark ``taken`` as in use (a step taken back after a restart keeps its GPUs)."""
        with self.lock:
            for device in taken:
                kind, name = device.split("=", 1)
                if name in self.free.get(kind, []):
                    self.free[kind].remove(name)

    def give_back(self, taken: list[str]) -> None:
        with self.lock:
            for device in taken:
                kind, name = device.split("=", 1)
                self.free.setdefault(kind, []).append(name)
