"""A DAG pass visits only the tasks that may have moved (issue 14): the running and waiting
ones and those whose last dependency completed, not every task of the DAG; what changes the
workflow from outside (here a restart of the engine) makes the next pass walk them all."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ydpipelines.localargo.controller import Operation
from ydpipelines.localargo.engine import Engine

from .conftest import NS, container, workflow

DONE = ("Succeeded", "Failed", "Error")


def chains(count: int, length: int, script: str) -> dict:
    """``count`` chains of ``length`` tasks (each after the one before it) in one DAG."""
    tasks = [
        {
            "name": f"c{c}t{i}",
            "template": "leaf",
            **({"dependencies": [f"c{c}t{i - 1}"]} if i else {}),
        }
        for c in range(count)
        for i in range(length)
    ]
    main = {"name": "main", "dag": {"tasks": tasks}}
    return workflow("main", [main, container("leaf", script)], prefix="dagpass-")


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many node lookups by name the controller made (one per task it visits, at least)."""
    count = [0]
    real = Operation.node

    def counted(self: Operation, name: str):
        count[0] += 1
        return real(self, name)

    monkeypatch.setattr(Operation, "node", counted)
    return count


def test_a_pass_looks_at_the_running_tasks_not_every_task(
    tmp_path: Path, lookups: list[int]
) -> None:
    engine = Engine(tmp_path / "data", max_parallel=2)
    try:
        wf = engine.create_workflow(NS, chains(2, 1000, "sleep 30"))
        key = (NS, wf["metadata"]["name"])
        with engine.lock:
            engine._operate(key)  # the first pass: a full walk, starts both chains' heads
            lookups[0] = 0
            engine._operate(key)
            second = lookups[0]
            nodes = engine.store.get("workflows", *key)["status"]["nodes"]
        running = [n for n in nodes.values() if n["type"] == "Pod" and n["phase"] == "Running"]
        assert len(running) == 2
        # a full walk looks up each of the 2,000 tasks; this pass visits the two running ones
        assert second < 20, second
        # a restarted engine knows nothing of earlier passes: it walks every task again
        for k in list(engine.executor.running):
            engine.kill_step(*k, "restart")
        engine.stop()
        lookups[0] = 0
        again = Engine(tmp_path / "data", max_parallel=2)
        try:
            with again.lock:
                again._operate(key)
        finally:
            for k in list(again.executor.running):
                again.kill_step(*k, "test over")
            again.stop()
        assert lookups[0] >= 2000
    finally:
        for k in list(engine.executor.running):
            engine.kill_step(*k, "test over")
        engine.stop()


def test_a_dag_runs_to_its_end_with_flat_passes(tmp_path: Path, lookups: list[int]) -> None:
    """Every step's end gives a pass; the lookups over the whole run stay proportional to the
    tasks (a walk of every task in each pass made them grow with their square)."""
    tasks = 120
    engine = Engine(tmp_path / "data", max_parallel=2)
    engine.start()
    try:
        spec = chains(2, tasks // 2, "true")
        dag = spec["spec"]["templates"][0]["dag"]["tasks"]
        # a failure handled by `depends` and an Omitted task, each freeing what follows
        dag[-1]["depends"] = f"{dag[-1].pop('dependencies')[0]}.Succeeded && c0t0.Succeeded"
        dag.append({"name": "odd", "template": "bad"})
        dag.append({"name": "omitted", "template": "leaf", "depends": "odd.Succeeded"})
        dag.append({"name": "after", "template": "leaf", "depends": "odd.Failed || omitted"})
        spec["spec"]["templates"].append(container("bad", "exit 3"))
        wf = engine.create_workflow(NS, spec)
        key = (NS, wf["metadata"]["name"])
        deadline = time.time() + 240
        while time.time() < deadline:
            with engine.lock:
                got = engine.store.get("workflows", *key)
                if got["status"].get("phase") in DONE:
                    break
            time.sleep(0.1)
        phases = {n["displayName"]: n["phase"] for n in got["status"]["nodes"].values()}
        assert got["status"]["phase"] == "Succeeded", got["status"].get("message")
        assert phases["odd"] == "Failed" and phases["omitted"] == "Omitted"
        assert phases["after"] == "Succeeded"
        assert all(phases[f"c{c}t{i}"] == "Succeeded" for c in (0, 1) for i in range(60))
        assert got["status"]["progress"] == f"{tasks + 2}/{tasks + 2}"
        # a walk of all 123 tasks a pass, at about two passes a step, would be ~30,000
        assert lookups[0] < 40 * tasks, lookups[0]
    finally:
        engine.stop()
