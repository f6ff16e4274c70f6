"""The one cycle finder (ydpipelines.dag, on the standard library's graphlib)."""

import itertools

from ydpipelines.dag import find_cycle


def test_no_cycle():
    assert find_cycle({"b": ["a"], "c": ["a", "b"], "a": []}) == []
    assert find_cycle({}) == []
    assert find_cycle({"b": ["not-listed"]}) == []  # an unknown name is a leaf


def test_a_cycle_reads_in_flow_order_and_closes_on_its_first_node():
    # a -> b -> c -> a (each waits for the one before it)
    cycle = find_cycle({"a": ["c"], "b": ["a"], "c": ["b"], "d": ["a"]})
    assert cycle[0] == cycle[-1] and len(cycle) == 4
    flow = {("a", "b"), ("b", "c"), ("c", "a")}
    assert set(itertools.pairwise(cycle)) == flow


def test_a_node_waiting_for_itself():
    assert find_cycle({"a": ["a"]}) == ["a", "a"]


def test_a_long_chain_does_not_hit_the_recursion_limit():
    chain = {f"n{i}": [f"n{i - 1}"] for i in range(1, 5000)}
    assert find_cycle(chain) == []
    chain["n0"] = ["n4999"]
    assert len(find_cycle(chain)) == 5001
