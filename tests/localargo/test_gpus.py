"""CDI specs as the engine reads them (gpus.py), the capacity they give (scheduler.py), and the
step cache's choice of steps that need its fill step (stepcache.py). No container runtime."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ydpipelines.localargo.gpus import CdiError, Devices, read_specs
from ydpipelines.localargo.scheduler import Capacity
from ydpipelines.localargo.stepcache import needs_notebook_tools

# What `nvidia-ctk cdi generate` writes for two GPUs: each by index and by UUID, and `all`.
NVIDIA_YAML = """
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes: [{path: /dev/nvidia0}]
- name: GPU-aaaa
  containerEdits:
    deviceNodes: [{path: /dev/nvidia0}]
- name: "1"
  containerEdits:
    deviceNodes: [{path: /dev/nvidia1}]
- name: GPU-bbbb
  containerEdits:
    deviceNodes: [{path: /dev/nvidia1}]
- name: all
  containerEdits:
    deviceNodes: [{path: /dev/nvidia0}, {path: /dev/nvidia1}]
containerEdits:
  deviceNodes: [{path: /dev/nvidiactl}]
"""


def test_each_gpu_counts_once_and_all_is_not_one(tmp_path: Path) -> None:
    (tmp_path / "nvidia.yaml").write_text(NVIDIA_YAML)
    amd = {"cdiVersion": "0.5.0", "kind": "amd.com/gpu", "devices": [{"name": "card0"}]}
    (tmp_path / "amd.json").write_text(json.dumps(amd))
    other = {"cdiVersion": "0.5.0", "kind": "vendor.com/fpga", "devices": [{"name": "x"}]}
    (tmp_path / "fpga.json").write_text(json.dumps(other))
    (tmp_path / "README.txt").write_text("not a spec")
    found = read_specs((str(tmp_path), str(tmp_path / "absent")))
    assert found == {"nvidia.com/gpu": ["0", "1"], "amd.com/gpu": ["card0"]}
    capacity = Capacity.of_machine(cpu="2", memory="1Gi", cdi_dirs=(str(tmp_path),))
    assert capacity.amounts["nvidia.com/gpu"] == 2 and capacity.amounts["amd.com/gpu"] == 1
    # the flag wins over the specs
    flagged = Capacity.of_machine(cpu="2", memory="1Gi", gpu="1", cdi_dirs=(str(tmp_path),))
    assert flagged.amounts["nvidia.com/gpu"] == 1


def test_a_spec_that_does_not_parse_is_named(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(
        CdiError, match=re.escape(f"CDI spec {tmp_path / 'broken.json'} cannot be read")
    ):
        read_specs((str(tmp_path),))
    with pytest.raises(ValueError, match=r"broken\.json"):
        Capacity.of_machine(cpu="1", memory="1Gi", cdi_dirs=(str(tmp_path),))


def test_devices_are_handed_out_and_given_back() -> None:
    devices = Devices({"nvidia.com/gpu": ["0", "1"]})
    first = devices.take({"nvidia.com/gpu": 1, "cpu": 2})
    assert first == ["nvidia.com/gpu=0"]
    with pytest.raises(CdiError, match=re.escape("nvidia.com/gpu: requested 2, 1 free")):
        devices.take({"nvidia.com/gpu": 2})
    assert devices.free == {"nvidia.com/gpu": ["1"]}  # a refused request takes nothing
    with pytest.raises(CdiError, match=re.escape("amd.com/gpu: requested 1, 0 free")):
        devices.take({"amd.com/gpu": 1})
    devices.give_back(first)
    assert sorted(devices.free["nvidia.com/gpu"]) == ["0", "1"]
    devices.hold(["nvidia.com/gpu=1"])  # a step taken back after a restart keeps its GPU
    assert devices.take({"nvidia.com/gpu": 1}) == ["nvidia.com/gpu=0"]
    assert devices.take({}) == []


@pytest.mark.parametrize(
    ("argv", "needs"),
    [
        (["python3", "/tmp/ydp/steprunner.py", "--kind", "notebook", "--file", "a.ipynb"], True),
        (["python3", "/tmp/ydp/steprunner.py", "--kind=notebook"], True),
        (["python3", "/tmp/ydp/steprunner.py", "--kind", "python", "--file", "a.py"], False),
        (["sh", "-c", "echo --kind notebook"], False),
    ],
)
def test_the_fill_step_runs_before_notebook_steps_only(argv: list[str], needs: bool) -> None:
    assert needs_notebook_tools(argv) is needs
