"""A new user in a real Chromium: signs in, uploads the demo pipeline, looks at its versions,
graph, YAML, parameters and files, finds it by searching, and meets upload errors on the form.
Screenshots land in screenshots/ for a person to look at."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
import yaml

from apps.pipelines.models import Pipeline, PipelineVersion

pytestmark = pytest.mark.e2e
# Locator assertions, not wait_for_function: its string predicates need eval, which the CSP refuses.
expect = pytest.importorskip("playwright.sync_api").expect

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo"
PASSWORD = "pw-new-user-42"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def newcomer(django_user_model):
    return django_user_model.objects.create_user("dana", "dana@example.com", PASSWORD)


def zip_folder(folder: Path, target: Path, *, leave_out: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for item in sorted(folder.rglob("*")):
            if item.is_file() and item.name != leave_out and "__pycache__" not in item.parts:
                archive.write(item, f"{folder.name}/{item.relative_to(folder)}")
    return target


def wide_workflow(count: int) -> bytes:
    """An Argo Workflow of `count` tasks in layers of 8, each needing two of the layer above."""
    tasks = []
    for i in range(count):
        task = {"name": f"step-{i:03d}", "template": "work"}
        if i >= 8:
            layer_start = (i // 8 - 1) * 8
            task["dependencies"] = sorted(
                {f"step-{layer_start + i % 8:03d}", f"step-{layer_start + (i + 3) % 8:03d}"}
            )
        tasks.append(task)
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "backfill-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", "dag": {"tasks": tasks}},
                {"name": "work", "container": {"image": "alpine:3.20", "command": ["true"]}},
            ],
        },
    }
    return yaml.safe_dump(manifest, sort_keys=False).encode()


def sign_in(page, live_server, username: str, password: str) -> None:
    page.goto(live_server.url + "/")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/pipelines/$"))


def test_new_user_uploads_and_explores_a_pipeline(page, live_server, newcomer, shot, tmp_path):
    if not (DEMO / "customer-churn.pipeline").exists():
        pytest.skip("examples/demo is absent")
    shots: list[Path] = []

    # Signing in.
    page.goto(live_server.url + "/")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.fill("#id_username", "dana")
    page.fill("#id_password", "wrong password")
    page.click("button[type=submit]")
    assert page.locator(".alert-error").is_visible()
    page.fill("#id_password", PASSWORD)
    shots.append(shot(page, "01-login"))
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/pipelines/$"))

    # An empty list says what to do next.
    assert page.get_by_role("heading", name="No pipelines yet").is_visible()
    assert page.locator(".nav-item", has_text="Recurring Runs").is_visible()
    shots.append(shot(page, "02-empty-list"))

    # Upload the demo pipeline as a zip of its folder.
    page.get_by_role("link", name="Upload pipeline").first.click()
    page.wait_for_url(re.compile(r"/pipelines/upload/"))
    page.fill("#id_name", "customer-churn")
    page.fill("#id_description", "Prepares customer data, trains a churn model and evaluates it.")
    page.set_input_files("#id_file", str(zip_folder(DEMO, tmp_path / "customer-churn.zip")))
    shots.append(shot(page, "03-upload-form"))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r"/pipelines/\d+/versions/[0-9a-f-]+/$"))

    # The version page: message, header, graph.
    assert "Uploaded “customer-churn” version “v1”" in page.locator(".messages").inner_text()
    assert page.locator("svg .node").count() == 4
    assert page.locator("[data-graph-tools]").is_visible()
    # "Create run": a link once the runs app has its form, a disabled button with a hint before.
    assert page.locator(".page-actions", has_text="Create run").is_visible()
    shots.append(shot(page, "04-version-graph"))

    # A click on a node opens its details beside the graph; the close button hides them.
    page.locator("svg .node", has_text="Train model").click()
    panel = page.locator("#node-panel")
    panel.get_by_role("heading", name="Train model").wait_for()
    assert "train_model.ipynb" in panel.inner_text()
    shots.append(shot(page, "04b-version-node-panel"))
    panel.get_by_role("link", name="Close the node details").click()
    assert page.locator("#node-panel").is_hidden()
    # The keyboard reaches the same panel: a node takes focus, Enter opens it.
    page.locator("svg .node", has_text="Prepare data").focus()
    page.keyboard.press("Enter")
    page.locator("#node-panel").get_by_role("heading", name="Prepare data").wait_for()
    page.locator("#node-panel").get_by_role("link", name="Close the node details").click()

    # Zoom buttons change the scale the toolbar shows; Fit brings it back.
    level = page.locator("[data-graph-level]")
    before = level.inner_text()
    page.get_by_role("button", name="Zoom in").click()
    assert level.inner_text() != before
    page.get_by_role("button", name="Fit").click()
    assert level.inner_text() == before

    # YAML tab: the rendered Argo manifest, with a download.
    page.get_by_role("link", name="YAML").click()
    page.wait_for_url(re.compile(r"\?tab=yaml$"))
    code = page.locator("#manifest-yaml").inner_text()
    assert code.startswith("apiVersion: argoproj.io/v1alpha1\nkind: Workflow")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download").click()
    assert yaml.safe_load(Path(download_info.value.path()).read_text())["kind"] == "Workflow"
    shots.append(shot(page, "05-version-yaml"))

    page.get_by_role("link", name=re.compile(r"^Parameters")).click()
    assert page.locator("td code", has_text="MAX_DEPTH").is_visible()
    shots.append(shot(page, "06-version-parameters"))

    page.get_by_role("link", name="Files").click()
    assert page.locator("td", has_text="prepare_data.py").first.is_visible()
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile(r"Download bundle")).click()
    names = zipfile.ZipFile(download_info.value.path()).namelist()
    assert any(name.endswith("customer-churn.pipeline") for name in names)
    shots.append(shot(page, "07-version-files"))

    # A second version, from the pipeline page's "Upload version" (the pipeline is preselected).
    page.get_by_role("navigation", name="Breadcrumb").get_by_role(
        "link", name="customer-churn"
    ).click()
    page.get_by_role("link", name="Upload version").click()
    assert page.locator("#id_target_1").is_checked()
    assert page.locator("#id_pipeline").input_value() == str(Pipeline.objects.get().pk)
    assert not page.locator("#id_name").is_visible()  # only the chosen target's fields show
    page.fill("#id_version_name", "v2-tuned")
    page.set_input_files("#id_file", str(DEMO / "customer-churn.pipeline"))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r"/versions/"))
    assert "v2-tuned" in page.locator("h1").inner_text()
    page.get_by_role("navigation", name="Breadcrumb").get_by_role(
        "link", name="customer-churn"
    ).click()
    rows = page.locator("table tbody tr")
    assert rows.count() == 2 and "v2-tuned" in rows.first.inner_text()
    shots.append(shot(page, "08-pipeline-versions"))

    # A 120-node workflow stays readable: it opens at a readable zoom, not shrunk to fit.
    page.goto(live_server.url + "/pipelines/upload/")
    page.fill("#id_name", "feature-backfill")
    big = tmp_path / "backfill.yaml"
    big.write_bytes(wide_workflow(120))
    page.set_input_files("#id_file", str(big))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r"/versions/"))
    assert page.locator("svg .node").count() == 120
    assert int(page.locator("[data-graph-level]").inner_text().rstrip("%")) >= 50
    shots.append(shot(page, "09-graph-120-nodes"))
    # Finding a node centres it and marks it.
    page.fill("#graph-find", "step-117")
    page.press("#graph-find", "Enter")
    assert page.locator("svg .node.is-current").get_attribute("data-node") == "step-117"
    assert page.locator("[data-graph-find-count]").inner_text() == "1 of 1"
    shots.append(shot(page, "09b-graph-find-node"))

    # Search the list with HTMX: the table changes in place and the URL follows.
    page.get_by_role("link", name="Pipelines").first.click()
    page.fill("#pipeline-search", "churn")
    page.wait_for_url(re.compile(r"q=churn"))
    expect(page.locator("#pipeline-table tbody tr")).to_have_count(1)
    shots.append(shot(page, "10-list-search"))
    page.fill("#pipeline-search", "no-such-thing")
    page.wait_for_selector("text=No pipelines match")
    page.fill("#pipeline-search", "")
    expect(page.locator("#pipeline-table tbody tr")).to_have_count(2)

    assert page.js_errors == []
    assert PipelineVersion.objects.count() == 3
    print("\n".join(str(path) for path in shots))


def test_upload_errors_are_shown_on_the_form(page, live_server, newcomer, shot, tmp_path):
    sign_in(page, live_server, "dana", PASSWORD)
    page.goto(live_server.url + "/pipelines/upload/")

    # A malformed .pipeline file: refused with the reason, typed values kept, nothing stored.
    broken = tmp_path / "broken.pipeline"
    broken.write_text('{"doc_type": "pipeline", "version": "8", "pipelines": [')
    page.fill("#id_name", "my-pipeline")
    page.fill("#id_version_name", "first")
    page.fill("#id_description", "Kept after an error")
    page.set_input_files("#id_file", str(broken))
    page.get_by_role("button", name="Upload").click()
    alert = page.locator("#upload-error")
    alert.wait_for()
    assert "The upload was refused" in alert.inner_text()
    assert "JSON" in alert.inner_text()
    assert page.locator("#id_name").input_value() == "my-pipeline"
    assert page.locator("#id_version_name").input_value() == "first"
    assert page.locator("#id_description").input_value() == "Kept after an error"
    shot(page, "11-upload-error-malformed")

    # A file of the wrong kind is refused on its field before any import.
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    page.set_input_files("#id_file", str(text))
    page.get_by_role("button", name="Upload").click()
    page.locator(".field.has-error").first.wait_for()
    assert "is not a pipeline file" in page.locator(".field.has-error").inner_text()
    shot(page, "13-upload-error-file-type")

    # An http:// URL is refused on its field, before any fetch.
    page.set_input_files("#id_file", [])
    page.fill("#id_url", "http://example.com/demo.pipeline")
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".field.has-error")).to_contain_text("only https:// URLs are accepted")
    page.fill("#id_url", "")
    assert not Pipeline.objects.exists() and not PipelineVersion.objects.exists()

    # A zip that lacks a file one of its nodes runs: refused, naming the file; "Upload anyway"
    # stores it, and the version page warns.
    partial = zip_folder(DEMO, tmp_path / "partial.zip", leave_out="train_model.ipynb")
    page.set_input_files("#id_file", str(partial))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-missing")).to_contain_text("train_model.ipynb")
    assert not page.locator("#id_allow_missing").is_checked()
    shot(page, "12-upload-missing-file", full_page=True)
    assert not Pipeline.objects.exists() and not PipelineVersion.objects.exists()
    page.locator("#id_allow_missing").check()
    page.set_input_files("#id_file", str(partial))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r"/versions/"))
    warning = page.locator(".alert-warning", has_text="not uploaded")
    expect(warning).to_contain_text("train_model.ipynb")
    shot(page, "14-upload-anyway-version-warns")
    assert PipelineVersion.objects.get().spec["metadata"]["missing_files"] == ["train_model.ipynb"]
    assert page.js_errors == []
