"""Admission of steps against the machine, as the Kubernetes scheduler admits pods on a
one-node cluster: a step's requests (its limits where it has no requests, as Kubernetes
defaults them) must fit in what is free, the capacity minus the requests of the running steps.
Nothing is reserved for a waiting step, so a smaller one may pass it. A step that waits says
why in Argo's words for a pending pod (the PodScheduled condition: "Unschedulable: 0/1 nodes
are available: 1 Insufficient cpu."), followed by the figures; one that can never fit, because
it asks for more than the machine has, fails at once (Argo would leave it pending forever).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import gpus
from .volumes import VolumeError, parse_quantity

GPU = "nvidia.com/gpu"
NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")  # one folder per GPU the driver sees
BYTES = ("memory", "ephemeral-storage")


class Unfit(Exception):
    """The step cannot be admitted; ``never``: it cannot be, on this machine, ever."""

    def __init__(self, message: str, never: bool) -> None:
        super().__init__(message)
        self.never = never


@dataclass
class Capacity:
    """What the machine offers, by Kubernetes resource name (cpu in cores, the rest as
    counts or bytes); a name not listed has capacity 0, as an extended resource no node has."""

    amounts: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of_machine(
        cls,
        cpu: str | None = None,
        memory: str | None = None,
        gpu: str | None = None,
        data: Path | None = None,
        cdi_dirs: tuple[str, ...] | None = None,
    ) -> Capacity:
        """The machine's own figures, each replaced by the quantity given; GPUs by kind are
        the devices of the machine's CDI specs (gpus.py; ``nvidia.com/gpu`` without a spec:
        those the NVIDIA driver lists). Raises ValueError naming a quantity that is not one,
        or a CDI spec that cannot be read."""
        try:
            devices = gpus.read_specs(cdi_dirs or gpus.DEFAULT_DIRS)
        except gpus.CdiError as exc:
            raise ValueError(str(exc)) from None
        amounts = {
            "cpu": parse_cpu(cpu) if cpu else float(os.cpu_count() or 1),
            "memory": float(_quantity(memory, "memory") if memory else _meminfo_total()),
            GPU: float(_count(gpu) if gpu else len(devices.get(GPU, [])) or _nvidia_gpus()),
        }
        for kind, names in devices.items():
            amounts.setdefault(kind, float(len(names)))
        if data is not None:
            while not data.exists() and data != data.parent:  # not made yet: its disk
                data = data.parent
            amounts["ephemeral-storage"] = float(shutil.disk_usage(data).total)
        return cls(amounts)

    def describe(self) -> str:
        return ", ".join(f"{name} {show(name, v)}" for name, v in self.amounts.items())


def parse_cpu(text: Any) -> float:
    """CPUs in a Kubernetes quantity: ``500m`` -> 0.5, ``2`` -> 2.0."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 1000 if raw.endswith("m") else float(raw)
    except ValueError:
        raise ValueError(f"cpu {text!r} is not a quantity such as 500m or 2") from None
    if value < 0:
        raise ValueError(f"cpu {text!r} is negative")
    return value


def _quantity(text: Any, name: str) -> int:
    try:
        return parse_quantity(text)
    except VolumeError:
        raise ValueError(f"{name} {text!r} is not a quantity such as 64Mi or 1G") from None


def _count(text: Any) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ValueError(f"gpu {text!r} is not a whole number") from None
    if value < 0:
        raise ValueError(f"gpu {text!r} is negative")
    return value


def _meminfo_total() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _nvidia_gpus() -> int:
    try:
        return sum(1 for _ in NVIDIA_GPUS.iterdir())
    except OSError:
        return 0


def requests_of(spec: dict[str, Any]) -> dict[str, float]:
    """A container's requests by resource name: ``requests``, else ``limits`` (Kubernetes
    defaults a missing request to its limit; extended resources such as GPUs are set as
    limits only). Raises ValueError naming a value that is not a quantity."""
    res = spec.get("resources") or {}
    limits, requests = res.get("limits") or {}, res.get("requests") or {}
    asked: dict[str, float] = {}
    for name in {**limits, **requests}:
        value = requests.get(name, limits.get(name))
        if name == "cpu":
            asked[name] = parse_cpu(value)
        elif name in BYTES or name.startswith("hugepages-"):
            asked[name] = float(_quantity(value, name))
        else:
            asked[name] = float(_count(value))
    return {k: v for k, v in asked.items() if v > 0}


def check(asked: dict[str, float], capacity: Capacity, running: Iterable[dict[str, float]]) -> None:
    """Raise Unfit when ``asked`` does not fit beside the ``running`` requests."""
    never = sorted(n for n, v in asked.items() if v > capacity.amounts.get(n, 0.0))
    if never:
        figures = "; ".join(
            f"{n}: requested {show(n, asked[n])}, the machine has "
            f"{show(n, capacity.amounts.get(n, 0.0))}"
            for n in never
        )
        raise Unfit(f"{_words(never)} ({figures}: it can never run here)", never=True)
    used: dict[str, float] = {}
    for other in running:
        for name, value in other.items():
            used[name] = used.get(name, 0.0) + value
    free = {n: capacity.amounts.get(n, 0.0) - used.get(n, 0.0) for n in asked}
    short = sorted(n for n, v in asked.items() if v > free[n] + 1e-9)
    if short:
        figures = "; ".join(
            f"{n}: requested {show(n, asked[n])}, free {show(n, max(0.0, free[n]))}" for n in short
        )
        raise Unfit(f"{_words(short)} ({figures})", never=False)


def _words(names: list[str]) -> str:
    """Kubernetes' FitError message for one node, as Argo shows a pod's PodScheduled
    condition on its node: reasons sorted, each counted over the nodes (here one)."""
    reasons = ", ".join(f"1 Insufficient {n}" for n in sorted(names))
    return f"Unschedulable: 0/1 nodes are available: {reasons}."


def show(name: str, value: float) -> str:
    """A figure as a user reads it: cores as written (1.5), bytes with a binary suffix."""
    if name not in BYTES and not name.startswith("hugepages-"):
        return f"{value:g}"
    for suffix, size in (("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if value >= size:
            return f"{round(value / size, 2):g}{suffix}"
    return f"{value:g}"
