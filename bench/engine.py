"""Benchmark of the embedded engine (prints figures; not a test).

1. Per-step overhead: a 100-step fan-out of no-op steps run by the engine, against the same
   number of bare process spawns (``sh -c true``) with the same parallelism; then the same with
   the volumes an Elyra node may have (a claim at a path new to the host, /dev/shm in memory),
   which give each step a private root.
2. The time to accept (create) a 1,000-node DAG.
3. The time to list 1,000 workflows of 20 nodes each with ``fields=`` trimming.
4. A DAG of no-op steps run to its end at 100 and 1,000 nodes (``--dag-run``): the per-step
   overhead over bare spawns and the controller's own time a step (wall-clock and CPU: the CPU
   figure holds on a busy machine), which must stay flat.
5. The container executor's per-step overhead: the fan-out in the local busybox image
   (scripts/images.sh) against bare ``podman run --rm`` of that image, same parallelism; skipped,
   saying why, when no container runtime works or the image is missing.
6. Both executors side by side on a Python step in the default runtime image
   (localhost/ydpipelines-runtime, what Elyra nodes run in): the time a step takes on each
   executor beside a bare ``podman run --rm`` of that image, same steps and parallelism.

Usage: ``python bench/engine.py [--steps 100] [--parallel N] [--dag 1000] [--listed 1000]
[--rounds 3] [--dag-run 100,1000,5000]``; ``--smoke`` (what CI runs): 10 steps (4 on the container
executor), a 50-node DAG accepted, a 20-node DAG run, 50 listed workflows, one round.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.pipelines.constants import DEFAULT_RUNTIME_IMAGE
from ydpipelines.localargo.containers import REAP_GATHER, find_runtime, ulimits
from ydpipelines.localargo.engine import Engine
from ydpipelines.localargo.executor import Executor, StepRun, launchers_cpu_seconds
from ydpipelines.localargo.server import make_server

BUSYBOX = "localhost/ydp-busybox:1"


def start(data: str, parallel: int, executor: str = "host") -> str:
    engine = Engine(data, parallel, executor=executor)
    server = make_server(engine, "127.0.0.1", 0, None)
    engine.start()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/api/v1/workflows/default"


# One connection for the polls (a bare requests.get reads the proxy settings and connects
# anew each time: CPU counted in the engine's figures, since the bench runs in its process).
POLLS = requests.Session()
POLLS.trust_env = False


def wait(url: str, name: str) -> dict:
    while True:
        wf = POLLS.get(
            f"{url}/{name}", params={"fields": "status.phase,status.progress"}, timeout=60
        ).json()
        if wf["status"]["phase"] in ("Succeeded", "Failed", "Error"):
            return wf
        time.sleep(0.05)


NOOP = {"name": "noop", "container": {"image": "busybox", "command": ["true"]}}
WITH_VOLUMES = {
    "name": "noop",
    "volumes": [
        {"name": "data", "persistentVolumeClaim": {"claimName": "bench"}},
        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
    ],
    "container": {
        "image": "busybox",
        "command": ["true"],
        "volumeMounts": [
            {"name": "data", "mountPath": "/ydp-bench/data"},
            {"name": "shm", "mountPath": "/dev/shm"},
        ],
    },
}


def fan_out(
    url: str,
    steps: int,
    volumes: bool = False,
    image: str | None = None,
    template: dict | None = None,
) -> float:
    noop = template or (WITH_VOLUMES if volumes else NOOP)
    if image:
        noop = {**noop, "container": {**noop["container"], "image": image}}
    wf = {
        "metadata": {"generateName": "fan-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "dag": {
                        "tasks": [
                            {
                                "name": "noop",
                                "template": "noop",
                                "withSequence": {"count": str(steps)},
                            }
                        ]
                    },
                },
                noop,
            ],
        },
    }
    t0 = time.perf_counter()
    name = requests.post(url, json={"workflow": wf}, timeout=60).json()["metadata"]["name"]
    result = wait(url, name)
    elapsed = time.perf_counter() - t0
    assert result["status"]["phase"] == "Succeeded", result
    return elapsed


def bare(steps: int, parallel: int) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(lambda _: subprocess.run(["sh", "-c", "true"], check=True), range(steps)))
    return time.perf_counter() - t0


def bare_containers(
    cmd: list[str], steps: int, parallel: int, image: str = BUSYBOX, command: str = "true"
) -> float:
    """``steps`` bare ``run --rm`` of ``image`` running ``command``, ``parallel`` at a time."""
    argv = [*cmd, "run", "--rm", "--network", "none", *ulimits(), image, *command.split()]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        list(
            pool.map(lambda _: subprocess.run(argv, check=True, capture_output=True), range(steps))
        )
    return time.perf_counter() - t0


def container_bench(steps: int, parallel: int, rounds: int = 3) -> None:
    """The engine's fan-out and bare ``run --rm`` in turns, ``rounds`` times: on a shared,
    noisy machine one pair says little; the median of the rounds' differences says more."""
    runtime = find_runtime()
    if runtime is None:
        print("container executor: skipped (no container runtime works here)")
        return
    if runtime.run("image", "inspect", BUSYBOX).returncode != 0:
        print(f"container executor: skipped ({BUSYBOX} is missing: bash scripts/images.sh)")
        return
    overheads, cpu_extra = [], []
    with tempfile.TemporaryDirectory() as data:
        url = start(data, parallel, executor="container")
        fan_out(url, 2, image=BUSYBOX)  # warm up
        for _ in range(rounds):
            before = cpu_seconds()
            engine_s = fan_out(url, steps, image=BUSYBOX)
            time.sleep(REAP_GATHER + 0.5)  # the last removals (after the steps' ends)
            middle = cpu_seconds()
            bare_s = bare_containers(runtime.cmd(), steps, parallel)
            after = cpu_seconds()
            overheads.append((engine_s - bare_s) / steps * parallel * 1000)
            # CPU of this process (the engine's threads, and this bench's polls) and of the
            # CLI processes: steadier than wall-clock on a shared machine
            cpu_extra.append(((middle - before) - (after - middle)) / steps * 1000)
            print(
                f"container executor ({runtime.kind}): {steps} no-op steps, {parallel} at a "
                f"time: engine {engine_s:.2f} s, bare `{runtime.kind} run --rm` {bare_s:.2f} s "
                f"({bare_s / steps * parallel * 1000:.0f} ms each); overhead "
                f"{overheads[-1]:.1f} ms a step; CPU {cpu_extra[-1]:.0f} ms a step more"
            )
    print(
        f"container executor overhead over a bare `{runtime.kind} run --rm`, median of "
        f"{rounds} rounds: {statistics.median(overheads):.1f} ms a step (goal <= 100 ms; "
        f"rounds {', '.join(f'{o:.0f}' for o in overheads)}); CPU "
        f"{statistics.median(cpu_extra):.0f} ms a step more (engine and CLI calls)"
    )


def cpu_seconds() -> float:
    """CPU time of this process, its waited-for children (the container CLI calls) and the
    running step launchers with the steps they waited for (not this process's children)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    launched = launchers_cpu_seconds()
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime + launched


def step_start_bench(steps: int, rounds: int) -> None:
    """One host step's start: ``steps`` steps of ``true`` run one after the other through the
    executor, from the launcher and from the old chain (YDP_STEP_LAUNCHER=0) in turns; the CPU
    of everything involved a step (engine, launcher, step processes), medians of ``rounds``."""
    figures: dict[str, list[float]] = {"launcher": [], "chain": []}
    done = threading.Semaphore(0)
    for _ in range(rounds):
        for mode in figures:
            os.environ["YDP_STEP_LAUNCHER"] = "1" if mode == "launcher" else "0"
            executor = Executor(1, lambda run, code, error: done.release())
            with tempfile.TemporaryDirectory() as data:
                runs = []
                for i in range(steps + 1):
                    tmp = Path(data, str(i), "tmp")
                    tmp.mkdir(parents=True)
                    key = ("bench", "start", str(i))
                    runs.append(
                        StepRun(
                            key,
                            ["true"],
                            {"PATH": "/usr/bin:/bin"},
                            tmp,
                            "/tmp",
                            tmp.parent / "log",
                        )
                    )
                executor.start(runs[0])  # the launcher's own start is not a step's
                done.acquire()
                cpu0 = cpu_seconds()
                for run in runs[1:]:
                    executor.start(run)
                    done.acquire()
                figures[mode].append((cpu_seconds() - cpu0) / steps * 1000)
            executor.stop()
    os.environ.pop("YDP_STEP_LAUNCHER", None)
    print(
        f"a host step's start, {steps} `true` steps one at a time, {rounds} rounds in turns: "
        + "; ".join(
            f"{mode} {statistics.median(v):.1f} ms CPU a step ({', '.join(f'{x:.1f}' for x in v)})"
            for mode, v in figures.items()
        )
        + f"; load average {os.getloadavg()[0]:.1f}"
    )


def runtime_bench(steps: int, parallel: int) -> None:
    """A `python3 -c pass` step on each executor and in a bare container of the runtime image:
    the milliseconds a step costs on each, wall-clock x parallelism / steps."""
    runtime = find_runtime()
    image = DEFAULT_RUNTIME_IMAGE
    if runtime is None or runtime.run("image", "inspect", image).returncode != 0:
        print(f"executors side by side: skipped (no container runtime, or {image} is missing)")
        return
    python = {"name": "noop", "container": {"image": image, "command": ["python3", "-c", "pass"]}}
    figures = {}
    for executor in ("host", "container"):
        # The engine (threads of this process) is not stopped: it may still write as we clean.
        with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as data:
            url = start(data, parallel, executor=executor)
            fan_out(url, 2, template=python)  # warm up
            figures[f"{executor} executor"] = fan_out(url, steps, template=python)
    figures[f"bare `{runtime.kind} run --rm`"] = bare_containers(
        runtime.cmd(), steps, parallel, image, "python3 -c pass"
    )
    print(f"a Python step in {image}, {steps} steps, {parallel} at a time:")
    for what, seconds in figures.items():
        print(f"  {what:<24} {seconds:6.2f} s  {seconds / steps * parallel * 1000:6.0f} ms a step")


def big_dag(n: int) -> dict:
    tasks = [
        {"name": f"t{i}", "template": "noop", **({"dependencies": [f"t{i - 1}"]} if i % 10 else {})}
        for i in range(n)
    ]
    return {
        "metadata": {"generateName": "big-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", "dag": {"tasks": tasks}},
                {"name": "noop", "container": {"image": "busybox", "command": ["true"]}},
            ],
        },
    }


def dag_bench(sizes: list[int], parallel: int) -> None:
    """A DAG of no-op steps (chains of 10, as big_dag) run to its end at each size: the
    engine's wall-clock time per step over a bare spawn's, and the controller's own time (its
    passes, under the engine's lock) per step. A flat figure means an event costs what it
    touched, not what the workflow holds."""
    spent = [0.0, 0.0]  # the passes' wall-clock time, their CPU time
    operate = Engine._operate

    def timed(self: Engine, key: tuple[str, str]) -> None:
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            operate(self, key)
        finally:
            spent[0] += time.perf_counter() - t0
            spent[1] += time.thread_time() - c0

    Engine._operate = timed  # type: ignore[method-assign]
    try:
        for n in sizes:
            with tempfile.TemporaryDirectory() as data:
                url = start(data, parallel)
                fan_out(url, 2)  # warm up
                spent[:] = [0.0, 0.0]
                cpu0 = cpu_seconds()
                t0 = time.perf_counter()
                name = requests.post(url, json={"workflow": big_dag(n)}, timeout=120).json()
                result = wait(url, name["metadata"]["name"])
                engine_s = time.perf_counter() - t0
                # the engine's threads, the bench's polls and the steps' processes
                cpu_s = cpu_seconds() - cpu0
                assert result["status"]["phase"] == "Succeeded", result["status"]
                passes_s, passes_cpu = spent
            cpu0 = cpu_seconds()
            bare_s = bare(n, parallel)
            bare_cpu = cpu_seconds() - cpu0
            print(
                f"DAG of {n:,} no-op steps, {parallel} at a time: engine {engine_s:.2f} s, bare "
                f"spawns {bare_s:.2f} s; per-step overhead {(engine_s - bare_s) / n * 1000:.1f} "
                f"ms; controller passes {passes_s / n * 1000:.1f} ms a step, of it CPU "
                f"{passes_cpu / n * 1000:.1f} ms (goal <= 20 ms); CPU of the engine and its "
                f"steps {cpu_s / n * 1000:.1f} ms a step (bare {bare_cpu / n * 1000:.1f} ms); "
                f"load average {os.getloadavg()[0]:.1f}"
            )
    finally:
        Engine._operate = operate  # type: ignore[method-assign]


SCRIPT = "import json, sys\nprint(json.dumps({'n': sum(range(1000)), 'v': sys.version_info[0]}))\n"


def script_bench(steps: int, parallel: int, rounds: int) -> None:
    """A fan-out of ``steps`` tiny Python scripts (``script:`` templates: the engine's own
    interpreter on the host executor), from submit to the workflow's end, against the same
    scripts run bare (``python -c``) one after the other (issue 14's measure) and ``parallel``
    at a time (the engine's own parallelism: what the engine adds); ``rounds`` times in turns,
    medians."""
    source = {"image": "python:3.11", "command": ["python"], "source": SCRIPT}
    python = {"name": "noop", "script": source}
    argv = [sys.executable, "-c", SCRIPT]

    def one(_: object) -> None:
        subprocess.run(argv, check=True, capture_output=True)

    times: dict[str, list[float]] = {"engine": [], "sequential": [], "parallel": []}
    with tempfile.TemporaryDirectory() as data:
        url = start(data, parallel)
        fan_out(url, 2, template=python)  # warm up
        for _ in range(rounds):
            times["engine"].append(fan_out(url, steps, template=python))
            t0 = time.perf_counter()
            for i in range(steps):
                one(i)
            times["sequential"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with ThreadPoolExecutor(parallel) as pool:
                list(pool.map(one, range(steps)))
            times["parallel"].append(time.perf_counter() - t0)
    engine_s, seq_s, par_s = (statistics.median(t) for t in times.values())
    ratios = [e / s for e, s in zip(times["engine"], times["sequential"], strict=True)]
    print(
        f"fan-out of {steps} tiny Python scripts, {parallel} at a time, end to end: engine "
        f"{engine_s:.2f} s; bare one after the other {seq_s:.2f} s: "
        f"{statistics.median(ratios):.2f}x bare (goal <= 1.5x; rounds "
        f"{', '.join(f'{r:.2f}' for r in ratios)}); bare {parallel} at a time {par_s:.2f} s: "
        f"{engine_s / par_s:.2f}x, {(engine_s - par_s) / steps * parallel * 1000:.0f} ms a step"
    )


def list_bench(data: str, count: int = 1000) -> float:
    """count stored workflows of 20 nodes each, listed once with fields trimming."""
    import json
    import uuid

    state = Path(data) / "state" / "workflows" / "default"
    state.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        name = f"listed-{i:04d}"
        nodes = {
            f"{name}-{j}": {
                "id": f"{name}-{j}",
                "name": f"{name}.t{j}",
                "displayName": f"t{j}",
                "type": "Pod",
                "phase": "Running",
                "templateName": "noop",
                "startedAt": "2026-01-01T00:00:00Z",
                "boundaryID": name,
            }
            for j in range(20)
        }
        wf = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {
                "name": name,
                "namespace": "default",
                "uid": str(uuid.uuid4()),
                "creationTimestamp": "2026-01-01T00:00:00Z",
                "resourceVersion": "1",
                "labels": {"workflows.argoproj.io/phase": "Running"},
            },
            "spec": {"entrypoint": "main", "suspend": True, "templates": []},
            "status": {"phase": "Running", "startedAt": "2026-01-01T00:00:00Z", "nodes": nodes},
        }
        (state / f"{name}.json").write_text(json.dumps(wf))
    engine = Engine(data, 1)
    server = make_server(engine, "127.0.0.1", 0, None)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/api/v1/workflows/default"
    fields = (
        "metadata.continue,items.metadata.name,items.metadata.labels,items.status.phase,"
        "items.status.startedAt,items.status.finishedAt,items.status.progress,"
        "items.status.nodes"
    )
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        resp = requests.get(
            url,
            params={
                "fields": fields,
                "listOptions.labelSelector": "workflows.argoproj.io/phase in (Pending,Running)",
            },
            timeout=60,
        )
        best = min(best, time.perf_counter() - t0)
        assert len(resp.json()["items"]) == count
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--parallel", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--dag", type=int, default=1000, help="nodes of the DAG to accept")
    parser.add_argument("--listed", type=int, default=1000, help="workflows to list")
    parser.add_argument("--rounds", type=int, default=3, help="container fan-outs, in turns")
    parser.add_argument(
        "--dag-run",
        default="100,1000,5000",
        help="sizes of the no-op DAGs run to their end, comma-separated (e.g. 100,1000,5000)",
    )
    parser.add_argument("--smoke", action="store_true", help="CI's check: small sizes")
    parser.add_argument(
        "--only",
        default="stepstart,dag,scripts,steps,list,container,runtime",
        help="which parts to run, comma-separated (default all)",
    )
    args = parser.parse_args()
    if args.smoke:
        args.steps, args.dag, args.listed, args.rounds, args.dag_run = 10, 50, 50, 1, "20"
    parts = set(args.only.split(","))
    if "stepstart" in parts:
        step_start_bench(10 if args.smoke else 100, args.rounds)
    if "dag" in parts:
        dag_bench([int(n) for n in args.dag_run.split(",")], args.parallel)
    if "scripts" in parts:
        script_bench(5 if args.smoke else 20, args.parallel, args.rounds)
    if "steps" in parts:
        steps_bench(args)
    if "list" in parts:
        with tempfile.TemporaryDirectory() as data:
            print(
                f"list {args.listed:,} running workflows x 20 nodes with fields trimming: "
                f"{list_bench(data, args.listed) * 1000:.0f} ms"
            )
    # The smoke checks that these parts run, not their figures: a `podman run` costs the
    # machine about 0.3 CPU-s, and each part starts two a step (the engine's, a bare one).
    container_steps = 4 if args.smoke else args.steps
    if "container" in parts:
        container_bench(container_steps, args.parallel, args.rounds)
    if "runtime" in parts:
        runtime_bench(container_steps, args.parallel)


def steps_bench(args: argparse.Namespace) -> None:
    """No-op fan-outs (with and without volumes) against bare spawns; a big DAG accepted."""
    with tempfile.TemporaryDirectory() as data:
        url = start(data, args.parallel)
        fan_out(url, 5)  # warm up
        engine_s = fan_out(url, args.steps)
        bare_s = bare(args.steps, args.parallel)
        per_step = (engine_s - bare_s) / args.steps * args.parallel * 1000
        print(
            f"fan-out of {args.steps} no-op steps, {args.parallel} at a time: engine "
            f"{engine_s:.2f} s, bare spawns {bare_s:.2f} s"
        )
        print(
            f"per-step overhead over a bare spawn: {per_step:.1f} ms a step "
            f"(wall-clock difference x parallelism / steps; goal <= 50 ms)"
        )
        volumes_s = fan_out(url, args.steps, volumes=True)
        per_step = (volumes_s - bare_s) / args.steps * args.parallel * 1000
        print(
            f"the same with a claim at /ydp-bench/data and /dev/shm in memory: engine "
            f"{volumes_s:.2f} s, {per_step:.1f} ms a step over a bare spawn"
        )
        t0 = time.perf_counter()
        resp = requests.post(
            url, json={"workflow": big_dag(args.dag), "serverDryRun": False}, timeout=120
        )
        accept = time.perf_counter() - t0
        assert resp.status_code == 200, resp.text
        print(f"accept a {args.dag:,}-node DAG: {accept * 1000:.0f} ms")
        requests.put(f"{url}/{resp.json()['metadata']['name']}/terminate", json={}, timeout=60)


if __name__ == "__main__":
    main()
