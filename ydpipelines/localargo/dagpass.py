"""What a DAG pass remembers between passes, so a pass visits only the tasks that may move
(issue 14): the running or waiting ones and those whose last dependency just completed.

A task's node is made and changed only by running that task, and a completed task stays
completed: so a task found complete is never visited again, and a task not yet created is
visited only once every dependency is complete. What changes nodes outside a pass (retry,
resume, set, stop, terminate, a restart of the engine) drops the memory, and the next pass
walks every task again (``Engine.forget_dags``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# (tasks by name, their dependencies, the order to visit them, the leaves): controller.Plan
Plan = tuple[dict[str, Any], dict[str, list[str]], list[str], list[str]]


@dataclass
class DagState:
    plan: Plan  # the plan it was built for: another plan (a new spec) rebuilds it
    position: dict[str, int]  # a task's place in the visiting order
    dependents: dict[str, list[str]]  # task -> the tasks that wait for it
    waiting: dict[str, int]  # task not created -> its dependencies not complete yet
    settled: set[str] = field(default_factory=set)  # complete (and its exit handler too)
    active: set[str] = field(default_factory=set)  # created, not complete: visited each pass
    ready: set[str] = field(default_factory=set)  # not created, every dependency complete
    outputs: dict[str, Any] = field(default_factory=dict)  # finished tasks' values
    gathered: set[str] = field(default_factory=set)  # tasks whose values are in outputs
    failed: set[str] = field(default_factory=set)  # gathered tasks that ended Failed/Error
    busy: bool = False  # a visit that raised left it half-updated: rebuild

    @classmethod
    def empty(cls, plan: Plan) -> DagState:
        tasks, deps, order, _ = plan
        dependents: dict[str, list[str]] = {t: [] for t in tasks}
        for name in tasks:
            for dep in set(deps[name]):
                if dep in dependents:
                    dependents[dep].append(name)
        return cls(
            plan=plan,
            position={t: i for i, t in enumerate(order)},
            dependents=dependents,
            waiting={},
        )

    def count_waiting(self) -> None:
        """After a full walk has filled settled and active: what each other task waits for
        (a dependency that is not a task of the DAG never completes)."""
        tasks, deps, _, _ = self.plan
        for name in tasks:
            if name in self.settled or name in self.active:
                continue
            left = sum(1 for d in set(deps[name]) if d not in self.settled)
            self.waiting[name] = left
            if left == 0:
                self.ready.add(name)

    def created(self, name: str) -> None:
        self.ready.discard(name)
        self.waiting.pop(name, None)
        self.active.add(name)

    def settle(self, name: str) -> list[str]:
        """Mark ``name`` complete; the tasks this made ready, to visit in this same pass."""
        self.active.discard(name)
        self.ready.discard(name)
        self.waiting.pop(name, None)
        self.settled.add(name)
        freed = []
        for dep in self.dependents.get(name, ()):
            left = self.waiting.get(dep)
            if left is None:
                continue
            self.waiting[dep] = left - 1
            if left == 1:
                self.ready.add(dep)
                freed.append(dep)
        return freed


# per workflow: the nodes dict the states were built from, and a state per DAG node id
Memory = dict[tuple[str, str], tuple[dict[str, Any], dict[str, DagState]]]


def states_for(memory: Memory, key: tuple[str, str], nodes: dict[str, Any]) -> dict[str, DagState]:
    """The DAG states of a workflow, empty when its nodes are not the ones they were built
    from (the workflow was read again, replaced or recreated)."""
    held = memory.get(key)
    if held is None or held[0] is not nodes:
        held = memory[key] = (nodes, {})
    return held[1]
