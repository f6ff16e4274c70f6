"""Steps share one network namespace with one slirp4netns (network.py), which the engine
starts again when it dies and never leaves behind; and a step behind slirp4netns can resolve
names even when the host's resolv.conf names only a loopback resolver."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from tests.processes import EngineProcess, children, gone
from ydpipelines.localargo.executor import Executor, StepOptions, StepRun
from ydpipelines.localargo.sandbox import Sandbox, slirp_resolv_conf

from .conftest import Client, container, workflow

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("slirp4netns"),
    reason="the shared network is for an engine run as root with slirp4netns",
)

# (not /sys/class/net: the host's sysfs lists the host's interfaces)
INTERFACES = 'python3 -c "import socket; print(*[n for _, n in socket.if_nameindex()])"'
PROBE = f"readlink /proc/self/ns/net; {INTERFACES}"


def network_pids(engine: EngineProcess) -> dict[int, str]:
    return {
        pid: name
        for pid, name in children(engine.proc.pid).items()
        if name in ("slirp4netns", "cat")
    }


def three_steps(api: Client, extra: str = "") -> list[tuple[str, set[str]]]:
    """Three steps one after another: each one's network namespace and interfaces."""
    steps = {
        "name": "main",
        "steps": [[{"name": f"s{i}", "template": "probe"}] for i in range(3)],
    }
    wf = api.run(workflow("main", [steps, container("probe", PROBE + extra)]), timeout=60)
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    pods = sorted(
        (n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"),
        key=lambda n: n["startedAt"],
    )
    seen = []
    for node in pods:
        ns, _, interfaces = node["outputs"]["result"].partition("\n")
        seen.append((ns, set(interfaces.split())))
    return seen


@pytest.fixture
def engine(tmp_path, swagger):
    proc = EngineProcess(tmp_path / "engine").start()
    try:
        yield proc, Client(proc.url, swagger)
    finally:
        proc.stop()


def test_steps_one_after_another_share_one_network_and_one_slirp(engine) -> None:
    proc, api = engine
    reach = f"import socket; socket.create_connection(('10.0.2.2', {proc.port}), 2)"
    seen = three_steps(api, f'; python3 -c "{reach}" 2>/dev/null && echo HOST-LOOPBACK; true')
    namespaces = {ns for ns, _ in seen}
    assert len(namespaces) == 1, seen
    assert namespaces != {os.readlink("/proc/self/ns/net")}
    for _, interfaces in seen:
        assert {"lo", "tap0"} <= interfaces and "HOST-LOOPBACK" not in interfaces
    assert sorted(network_pids(proc).values()) == ["cat", "slirp4netns"]


def test_the_network_is_started_again_when_it_dies(engine) -> None:
    proc, api = engine
    first = three_steps(api)[0][0]
    before = network_pids(proc)
    slirp = next(pid for pid, name in before.items() if name == "slirp4netns")
    os.kill(slirp, signal.SIGKILL)
    assert gone([slirp])
    seen = three_steps(api)
    assert len({ns for ns, _ in seen}) == 1 and seen[0][0] != first
    assert all("tap0" in interfaces for _, interfaces in seen)
    after = network_pids(proc)
    assert sorted(after.values()) == ["cat", "slirp4netns"] and not set(after) & set(before)


@pytest.mark.parametrize("how", ["stop", "kill9"])
def test_no_network_process_outlives_the_engine(engine, how) -> None:
    proc, api = engine
    three_steps(api)
    pids = list(network_pids(proc))
    assert len(pids) == 2
    proc.stop() if how == "stop" else proc.kill9()
    assert gone(pids), {p: Path(f"/proc/{p}/comm").read_text() for p in pids}


def test_a_loopback_only_resolv_conf_is_replaced_by_slirps_resolver() -> None:
    stub = "# systemd-resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n"
    assert slirp_resolv_conf(stub) == "nameserver 10.0.2.3\noptions edns0 trust-ad\nsearch lan\n"
    assert slirp_resolv_conf("") == "nameserver 10.0.2.3\n"
    assert slirp_resolv_conf("nameserver 127.0.0.1\nnameserver 10.1.2.3\n") is None
    assert slirp_resolv_conf("nameserver 10.255.255.53\n") is None


def test_a_step_sees_slirps_resolver_when_the_host_has_a_loopback_one(tmp_path) -> None:
    """The executor on its own (no engine): the host's resolv.conf is a file of the test."""
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 127.0.0.53\nsearch example.internal\n")
    done: list[int] = []
    executor = Executor(
        1, lambda run, code, error: done.append(code), StepOptions(network="outbound")
    )
    try:
        executor.sandbox = Sandbox.configure(network="outbound", resolv_conf=str(host))
        executor.sandbox.resolv_target = "/etc/resolv.conf"  # the host file stands for it
        step = tmp_path / "step"
        (step / "tmp").mkdir(parents=True)
        os.chmod(step / "tmp", 0o777)
        run = StepRun(
            key=("default", "wf", "n"),
            argv=["sh", "-c", f"cat /etc/resolv.conf; {INTERFACES}"],
            env={"PATH": "/usr/bin:/bin"},
            tmp_dir=step / "tmp",
            cwd="/tmp",
            log_path=step / "log",
        )
        assert executor.start(run)
        deadline = time.time() + 30
        while not done and time.time() < deadline:
            time.sleep(0.05)
        assert done == [0], (step / "log").read_text()
        out = bytes(run.stdout).decode()
        assert out.startswith("nameserver 10.0.2.3\nsearch example.internal\n"), out
        assert "tap0" in out
        assert "10.0.2.3" not in Path("/etc/resolv.conf").read_text()  # the host's untouched
    finally:
        executor.stop()
