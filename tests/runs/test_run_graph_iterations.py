"""The run graph with loop iterations and retried steps, their panels, the live poll's phases
and shape, and the Config tab's requested-but-not-enforced note."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.pipelines.graph import graph_from_manifest
from apps.runs.constants import RunState, StepPhase
from apps.runs.run_graph import executions, expand, group_phase, task_key
from tests.experiments.builders import make_experiment, make_run, make_step, make_version

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


@pytest.fixture
def run():
    return make_run(make_version(), make_experiment("exp"), submitted_at=timezone.now())


def node_classes(body: str) -> dict[str, str]:
    return {
        key: re.search(r"phase-([a-z]+)", cls).group(1)
        for cls, key in re.findall(r'<g class="(node [^"]*)" data-node="([^"]+)"', body)
    }


def loop(run, key: str, items: list[str], phase: str = StepPhase.SUCCEEDED) -> None:
    for index, item in enumerate(items):
        make_step(run, f"{key}({index}:{item})", phase, started_at=timezone.now())


def test_a_looped_task_fans_out_to_its_iterations(auth_client, run):
    make_step(run, "prepare", StepPhase.SUCCEEDED)
    loop(run, "train", ["a", "b"])
    make_step(run, "train(2:c)", StepPhase.RUNNING)
    body = auth_client.get(run.get_absolute_url()).content.decode()
    assert node_classes(body) == {
        "prepare": "succeeded",
        "train": "running",  # the group: running while an iteration runs
        "train(0:a)": "succeeded",
        "train(1:b)": "succeeded",
        "train(2:c)": "running",
        "evaluate": "pending",
    }
    assert ">3 iterations</text>" in body and ">2: c</text>" in body
    # prepare -> group -> each iteration -> evaluate
    edges = set(re.findall(r'data-from="([^"]+)" data-to="([^"]+)"', body))
    assert ("prepare", "train") in edges and ("train", "train(1:b)") in edges
    assert ("train(1:b)", "evaluate") in edges and ("train", "evaluate") not in edges


def test_hundreds_of_iterations_collapse_into_a_more_node(auth_client, run):
    loop(run, "train", [str(i) for i in range(200)])
    run.steps.filter(display_name="train(150:150)").update(phase=StepPhase.FAILED)
    body = auth_client.get(run.get_absolute_url()).content.decode()
    classes = node_classes(body)
    assert len([k for k in classes if k.startswith("train(")]) == 21  # 20 + "+ N more"
    assert ">+ 180 more</text>" in body
    # The group's phase counts every iteration, drawn or not.
    assert classes["train"] == "failed" and classes["train(+)"] == "failed"
    panel = auth_client.get(reverse("runs:node", args=[run.pk, "train(+)"]), headers=HX)
    text = panel.content.decode()
    assert panel.status_code == 200 and "200 iterations" in text
    assert text.count("data-open-node=") == 200


def test_a_retried_step_shows_its_attempts_and_each_log(auth_client, run):
    make_step(run, "train", StepPhase.SUCCEEDED, node_type="Retry", pod_name="")
    first = make_step(
        run, "train(0)", StepPhase.FAILED, exit_code=1, message="Error (exit code 1): ValueError",
        log="Traceback\nValueError: no", log_fetched=True,
    )  # fmt: skip
    make_step(run, "train(1)", StepPhase.SUCCEEDED, log="all good", log_fetched=True)
    body = auth_client.get(run.get_absolute_url()).content.decode()
    assert node_classes(body)["train"] == "succeeded" and ">2 attempts</text>" in body
    url = reverse("runs:node", args=[run.pk, "train"])
    text = auth_client.get(url + "?panel=logs", headers=HX).content.decode()
    assert "2 attempts" in text and text.count("Attempt ") >= 2
    assert "all good" in text and "ValueError: no" not in text  # the last attempt by default
    text = auth_client.get(f"{url}?panel=logs&attempt={first.node_id}", headers=HX).content
    assert b"ValueError: no" in text and b"all good" not in text


def test_iteration_panel_has_its_log_and_its_task_config(auth_client, run):
    loop(run, "train", ["a"])
    run.steps.filter(display_name="train(0:a)").update(log="item a", log_fetched=True)
    url = reverse("runs:node", args=[run.pk, "train(0:a)"])
    text = auth_client.get(url + "?panel=logs", headers=HX).content.decode()
    assert "item a" in text and "train(0:a)" in text
    text = auth_client.get(url + "?panel=config", headers=HX).content.decode()
    assert "train-t" in text and "python:3.11-slim" in text
    # Without HTMX the run page opens with the iteration's panel.
    body = auth_client.get(f"{run.get_absolute_url()}?node=train(0:a)&panel=logs").content
    assert b"item a" in body


def test_poll_carries_iteration_phases_and_a_new_shape_redraws(auth_client, run):
    loop(run, "train", ["a"], StepPhase.RUNNING)
    page = auth_client.get(run.get_absolute_url()).content.decode()
    shape = re.search(r'data-graph-shape="([0-9a-f]+)"', page).group(1)
    poll = auth_client.get(reverse("runs:status", args=[run.pk]), headers=HX).content.decode()
    phases = json.loads(re.search(r'id="run-phases-data"[^>]*>(.*?)</script>', poll).group(1))
    assert phases["train(0:a)"] == "Running" and phases["train"] == "Running"
    assert f'data-shape="{shape}"' in poll  # nothing new: no redraw
    make_step(run, "train(1:b)", StepPhase.PENDING)
    poll = auth_client.get(reverse("runs:status", args=[run.pk]), headers=HX).content.decode()
    new = re.search(r'data-shape="([0-9a-f]+)"', poll).group(1)
    assert new != shape
    card = auth_client.get(reverse("runs:graph", args=[run.pk]), headers=HX).content.decode()
    assert f'data-graph-shape="{new}"' in card and 'data-node="train(1:b)"' in card


def test_graph_page_query_count_is_fixed_with_iterations(
    auth_client, run, django_assert_num_queries
):
    loop(run, "train", [str(i) for i in range(5)])
    with django_assert_num_queries(6):
        auth_client.get(run.get_absolute_url())
    loop(run, "evaluate", [str(i) for i in range(50)])
    with django_assert_num_queries(6):
        auth_client.get(run.get_absolute_url())
    with django_assert_num_queries(5):
        auth_client.get(reverse("runs:status", args=[run.pk]), headers=HX)


def test_finished_counts_count_iterations_once(auth_client, run):
    loop(run, "train", ["a", "b"])
    make_step(run, "prepare", StepPhase.SUCCEEDED)
    run.state = RunState.SUCCEEDED
    run.finished_at = timezone.now()
    run.save()
    poll = auth_client.get(reverse("runs:status", args=[run.pk]), headers=HX).content.decode()
    assert "3 succeeded" in poll and "1 not run" in poll  # prepare + 2 iterations; evaluate


def test_expand_and_names():
    graph = graph_from_manifest(make_version().manifest)
    found = executions([])
    assert expand(graph, found).nodes == graph.nodes
    assert task_key("train(3:x)(1)") == "train" and task_key("train") == "train"
    assert group_phase([]) is None
    assert group_phase([StepPhase.SUCCEEDED, StepPhase.FAILED]) == StepPhase.FAILED
    assert group_phase([StepPhase.SKIPPED, StepPhase.SUCCEEDED]) == StepPhase.SUCCEEDED


def test_config_tab_says_what_the_embedded_engine_does_not_enforce(auth_client, run, settings):
    manifest = run.pipeline_version.manifest
    template = manifest["spec"]["templates"][2]  # train-t
    template["nodeSelector"] = {"disktype": "ssd"}
    template["tolerations"] = [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    template["container"]["resources"]["limits"] = {"nvidia.com/gpu": "1"}
    type(run.pipeline_version).objects.filter(pk=run.pipeline_version.pk).update(manifest=manifest)
    url = reverse("runs:node", args=[run.pk, "train"]) + "?panel=config"
    settings.ARGO_EMBEDDED = True
    text = auth_client.get(url, headers=HX).content.decode()
    assert "disktype=ssd" in text and "NoSchedule" in text and "nvidia.com/gpu 1" in text
    assert (
        "Not enforced by the embedded engine on this machine: image, cpu, memory, gpu, "
        "node selector, tolerations." in text
    )
    settings.ARGO_EMBEDDED = False
    text = auth_client.get(url, headers=HX).content.decode()
    assert "Not enforced" not in text and "disktype=ssd" in text
