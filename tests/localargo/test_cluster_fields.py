"""Fields that ask a cluster for something (issue 9): the engine does it as Argo does, or
refuses the workflow at create naming the field; it never accepts and ignores one. Each case
comes from a workflow of Argo's e2e suite (expectedfailures/oom-kill, unschedulable,
volumes-pvc-fail-event, pod-termination-failure; functional/dag-empty-param)."""

from __future__ import annotations

import pytest

from .conftest import ApiFailure, Client, workflow


def python_step(name: str, mebibytes: int, limit: str) -> dict:
    code = f"b = bytearray({mebibytes} * 1024 * 1024); print('allocated')"
    return {
        "name": name,
        "container": {
            "image": "python:3.11",
            "command": ["python3", "-c", code],
            "resources": {"limits": {"memory": limit}},
        },
    }


def the_pod(wf: dict) -> dict:
    (pod,) = [n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"]
    return pod


def test_a_step_past_its_memory_limit_fails_and_one_within_it_runs(api: Client) -> None:
    over = api.run(workflow("main", [python_step("main", 200, "64Mi")]))
    assert over["status"]["phase"] == "Failed"
    within = api.run(workflow("main", [python_step("main", 20, "256Mi")]))
    assert within["status"]["phase"] == "Succeeded"
    bad = api.run(workflow("main", [python_step("main", 1, "lots")]))
    assert bad["status"]["phase"] == "Error"
    # the scheduler reads the requests first: it names the bad quantity
    assert "memory 'lots' is not a quantity" in bad["status"]["message"]


def test_the_script_path_comes_after_the_args_as_in_argo(api: Client) -> None:
    """Argo's executeScript appends the script's path to the args: `sh -c CMD PATH`."""
    script = {
        "name": "main",
        "script": {
            "image": "alpine",
            "command": ["sh", "-c"],
            "args": ['echo "last=$0"'],
            "source": "echo the source itself is not run by sh -c",
        },
    }
    wf = api.run(workflow("main", [script]))
    assert wf["status"]["phase"] == "Succeeded"
    assert the_pod(wf)["outputs"]["result"] == "last=/tmp/.argo/script"


def selecting(selector: dict, where: str = "template") -> dict:
    step = {"name": "main", "container": {"image": "alpine", "command": ["true"]}}
    if where == "template":
        step["nodeSelector"] = selector
        return workflow("main", [step])
    return workflow("main", [step], nodeSelector=selector)


@pytest.mark.parametrize("where", ["template", "workflow"])
def test_a_node_selector_this_machine_cannot_satisfy_is_refused(api: Client, where: str) -> None:
    with pytest.raises(ApiFailure) as refused:
        api.create(selecting({"beta.kubernetes.io/arch": "no-such-arch"}, where))
    path = "spec.templates[0].nodeSelector" if where == "template" else "spec.nodeSelector"
    message = refused.value.body["message"]
    assert refused.value.status == 400
    assert message.startswith(f"unsupported: {path}.beta.kubernetes.io/arch ('no-such-arch'")
    assert "would never be scheduled" in message


def test_a_node_pool_selector_runs_and_the_node_says_it_was_not_enforced(api: Client) -> None:
    wf = api.run(selecting({"kubernetes.io/os": "linux", "pool": "gpu"}))
    assert wf["status"]["phase"] == "Succeeded"
    message = the_pod(wf).get("message", "")
    assert "nodeSelector pool=gpu not enforced: this machine is the only node" in message
    assert "kubernetes.io/os" not in message  # that one holds here


def test_a_claim_kubernetes_would_refuse_errors_the_workflow_as_argo(api: Client) -> None:
    step = {
        "name": "main",
        "container": {
            "image": "alpine",
            "command": ["true"],
            "volumeMounts": [{"name": "workdir", "mountPath": "/mnt/vol"}],
        },
    }
    vct = [{"metadata": {"name": "workdir"}, "spec": {"accessModes": ["InvalidAccessMode"]}}]
    wf = api.run(workflow("main", [step], volumeClaimTemplates=vct))
    assert wf["status"]["phase"] == "Error"
    assert wf["status"]["message"].startswith("pvc create error: PersistentVolumeClaim")
    assert 'Unsupported value: "InvalidAccessMode"' in wf["status"]["message"]
    assert not wf["status"]["nodes"]  # no step ran


def test_a_step_that_drives_the_cluster_with_kubectl_is_refused(api: Client) -> None:
    step = {
        "name": "main",
        "container": {"image": "bitnamilegacy/kubectl:1.15.3", "command": ["kubectl", "get"]},
    }
    with pytest.raises(ApiFailure) as refused:
        api.create(workflow("main", [step]))
    assert refused.value.body["message"].startswith(
        "unsupported: spec.templates[0].container.image (bitnamilegacy/kubectl:1.15.3 needs"
    )


def test_a_node_selector_chosen_by_a_parameter_is_checked_when_the_step_starts(
    api: Client,
) -> None:
    """Argo's examples/node-selector.yaml picks the arch from a parameter: with one this
    machine lacks the step errors in Kubernetes' words instead of waiting for ever."""
    step = {
        "name": "main",
        "inputs": {"parameters": [{"name": "arch"}]},
        "nodeSelector": {"beta.kubernetes.io/arch": "{{inputs.parameters.arch}}"},
        "container": {"image": "alpine", "command": ["true"]},
    }
    wf = workflow("main", [step])
    wf["spec"]["arguments"] = {"parameters": [{"name": "arch", "value": "s390x"}]}
    done = api.run(wf)
    assert done["status"]["phase"] == "Error"
    assert the_pod(done)["message"] == (
        "0/1 nodes are available: 1 node(s) didn't match Pod's node selector "
        "beta.kubernetes.io/arch=s390x"
    )


@pytest.mark.parametrize("where", ["spec.podSpecPatch", "spec.templates[0].podSpecPatch"])
def test_a_pod_spec_patch_is_refused(api: Client, where: str) -> None:
    patch = "containers:\n- name: main\n  resources: {limits: {memory: 100Mi}}\n"
    step = {"name": "main", "container": {"image": "alpine", "command": ["true"]}}
    if where.startswith("spec.templates"):
        step["podSpecPatch"] = patch
        wf = workflow("main", [step])
    else:
        wf = workflow("main", [step], podSpecPatch=patch)
    with pytest.raises(ApiFailure) as refused:
        api.create(wf)
    assert refused.value.body["message"] == f"unsupported: {where}"
