from apps.runs.sync import pod_name_for, readable_message, run_state_from
from ydpipelines.argo_names import fnv32a


def test_a_failed_child_is_named_by_its_step_and_reason():
    status = {
        "phase": "Failed",
        "message": "child 'wf-111' failed",
        "nodes": {
            "wf-111": {
                "type": "Retry",
                "displayName": "train",
                "phase": "Failed",
                "children": ["wf-222"],
            },
            "wf-222": {
                "type": "Pod",
                "displayName": "train(0)",
                "phase": "Failed",
                "message": "Error (exit code 1)",
            },
        },
    }
    assert readable_message(status) == "Step 'train(0)' failed: Error (exit code 1)"
    assert run_state_from({"status": status}) == (
        "Failed",
        "Step 'train(0)' failed: Error (exit code 1)",
    )


def test_other_messages_pass_through_and_terminate_is_its_own_state():
    assert readable_message({"message": "Stopped"}) == "Stopped"
    state, _ = run_state_from(
        {"status": {"phase": "Failed", "message": "Stopped with strategy 'Terminate'"}}
    )
    assert state == "Terminated"
    assert run_state_from({"status": {}}) == ("Pending", "")


def test_pod_names_follow_argo_v2():
    # Argo's UI tests pin these FNV-1a values.
    assert fnv32a("hello") == 1335831723
    assert fnv32a("world") == 933488787
    node = {"id": "wf-1", "name": "wf.step", "templateName": "main", "type": "Pod"}
    assert pod_name_for("wf", node) == f"wf-main-{fnv32a('wf.step')}"
    assert pod_name_for("wf", {"id": "wf-2", "type": "DAG", "templateName": "x"}) == "wf-2"


def test_the_reason_of_a_failed_step_comes_from_its_log():
    from apps.runs.outputs import failure_reason

    runner = (
        "[ydp] running\n[ydp] notebook a.ipynb raised ValueError in cell 2: bad\nValueError: bad\n"
    )
    assert failure_reason(runner) == "notebook a.ipynb raised ValueError in cell 2: bad"
    python = "Traceback (most recent call last):\n  File x\nKeyError: 'k'\n[ydp] exit code 1\n"
    assert failure_reason(python) == "KeyError: 'k'"
    r_log = (
        "Error in read.csv(\"x\") : no such file\nError: object 'y' not found\nExecution halted\n"
    )
    assert failure_reason(r_log) == "Error: object 'y' not found"
    assert failure_reason("all good\n") == ""
