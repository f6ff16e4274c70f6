"""Finding a cycle among dependencies: the one home of that rule, for the app's upload checks
(Elyra links, Argo DAG tasks) and the engine's (a DAG it is asked to run)."""

from __future__ import annotations

import graphlib
from collections.abc import Hashable, Iterable, Mapping
from typing import TypeVar

Node = TypeVar("Node", bound=Hashable)


def find_cycle(upstream: Mapping[Node, Iterable[Node]]) -> list[Node]:
    """A cycle in {node: the nodes it waits for}, in flow order with the first node again at
    the end (`a -> b -> a`), or [] when there is none. Names outside the mapping are leaves."""
    try:
        graphlib.TopologicalSorter(upstream).prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return []
