"""One pod-name rule for the engine and the app: Argo's v2 names (workflow/util/pod_name.go)."""

from __future__ import annotations

import pytest

from apps.runs.sync import pod_name_for
from ydpipelines import argo_names
from ydpipelines.argo_names import MAX_POD_NAME, fnv32a, node_id, pod_name
from ydpipelines.localargo import ids


def test_fnv32a_matches_go_hash_fnv() -> None:
    assert fnv32a("") == 0x811C9DC5
    assert fnv32a("hello") == 1335831723  # pinned in Argo's UI tests
    assert fnv32a("world") == 933488787
    assert fnv32a("é") != fnv32a("e")  # bytes of UTF-8, not code points


def test_short_names_are_workflow_template_hash() -> None:
    assert pod_name("wf", "wf.a", "main") == f"wf-main-{fnv32a('wf.a')}"
    assert pod_name("wf", "wf", "main") == "wf"  # the root pod is the workflow
    assert pod_name("wf", "wf[0].a", "") == f"wf-{fnv32a('wf[0].a')}"  # inline template
    assert node_id("wf", "wf.a") == f"wf-{fnv32a('wf.a')}"


@pytest.mark.parametrize("template_length", [15, 16, 20, 40, 63, 200, 206, 207, 300])
def test_long_names_keep_the_template_until_argos_242_byte_prefix(template_length: int) -> None:
    workflow = "run-" + "0123456789abcdef" * 2  # the app's run-<uuid hex>: 36 characters
    template = ("feature-engineering-" * 20)[:template_length]
    node = f"{workflow}.{template}"
    name = pod_name(workflow, node, template)
    full = f"{workflow}-{template}"
    assert name.endswith(f"-{fnv32a(node)}")
    prefix = name[: -len(str(fnv32a(node))) - 1]
    assert prefix == full[:242]
    assert len(name) <= MAX_POD_NAME


def test_max_length_name_and_unicode_cut_on_bytes() -> None:
    workflow = "w" * 253
    name = pod_name(workflow, f"{workflow}.x", "tmpl")
    assert name.startswith("w" * 242 + "-") and len(name) <= MAX_POD_NAME
    # Go slices the prefix on bytes; a cut through a multi-byte character drops its bytes
    workflow = "w" * 240
    name = pod_name(workflow, f"{workflow}.x", "éé")  # 241 + 4 bytes: cut inside the first é
    assert name == f"{workflow}--{fnv32a(workflow + '.x')}"
    name = pod_name("w" * 239, "w.x", "éé")  # 240 + 2 bytes: the first é fits
    assert name == f"{'w' * 239}-é-{fnv32a('w.x')}"


def test_engine_and_app_share_the_one_rule() -> None:
    assert ids.pod_name is argo_names.pod_name and ids.node_id is argo_names.node_id
    workflow = "run-" + "a" * 32
    node = {
        "id": node_id(workflow, f"{workflow}.feature-engineering"),
        "name": f"{workflow}.feature-engineering",
        "templateName": "feature_engineering",
        "type": "Pod",
    }
    assert pod_name_for(workflow, node) == ids.pod_name(
        workflow, node["name"], "feature_engineering"
    )
    # a step of a WorkflowTemplate: Argo records templateRef instead of templateName
    ref = {**node, "templateName": "", "templateRef": {"name": "lib", "template": "t-long-name"}}
    assert pod_name_for(workflow, ref) == pod_name(workflow, node["name"], "t-long-name")
    assert pod_name_for(workflow, {**node, "type": "DAG"}) == node["id"]
