"""The pipeline editor in a real Chromium: a draft from loose files (a notebook, a .py and an .R),
three nodes dragged onto the canvas and connected, an image and an env var set, a cycle refused,
undo/redo, a reload that loses nothing, then "Save as version" lands on the version page.
Screenshots at 1440x900 and 1280x720 land in screenshots/."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from apps.editor.models import Draft
from apps.pipelines.models import PipelineVersion

pytestmark = pytest.mark.e2e
# The tests marked any_database check the editor page's own scripts (the reason beside each):
# the drafts, files, properties and saves they go through are checked on SQLite without a
# browser (tests/editor), and the flows that save versions stay on both databases.
expect = pytest.importorskip("playwright.sync_api").expect
PASSWORD = "pw-editor-user-42"


@pytest.fixture
def maker(django_user_model):
    return django_user_model.objects.create_user("erin", "erin@example.com", PASSWORD)


def _files(tmp_path: Path) -> list[Path]:
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["# Load\n"], "metadata": {}},
            {
                "cell_type": "code",
                "source": ["import os\n", "print(os.environ.get('GREETING'))\n"],
                "metadata": {},
                "outputs": [],
                "execution_count": None,
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "load.ipynb").write_text(json.dumps(notebook))
    (folder / "train.py").write_text("print('train')\n")
    (folder / "report.R").write_text("cat('report\\n')\n")
    return sorted(folder.iterdir())


def _sign_in(page, live_server) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", "erin")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/pipelines/$"))


def _node(page, name: str):
    return page.locator(f'#canvas g.enode[aria-label="{name}"]')


def _center(locator) -> tuple[float, float]:
    # A save's answer redraws the canvas: the element found a moment ago may just have been
    # replaced by its twin, so ask again until a drawn one answers.
    for _ in range(50):
        expect(locator).to_be_visible()
        box = locator.bounding_box()
        if box is not None:
            return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        time.sleep(0.1)
    raise AssertionError(f"{locator} has no box")


def _connect(page, source: str, target: str) -> None:
    x, y = _center(_node(page, source).locator(".port-out"))
    tx, ty = _center(_node(page, target).locator("rect.box"))
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move((x + tx) / 2, (y + ty) / 2, steps=4)
    page.mouse.move(tx, ty, steps=4)
    page.mouse.up()


def _drag_file(page, path: str, x: float, y: float) -> None:
    """Drag a palette file to (x, y) of the canvas by hand, in steps. Playwright's drag_to makes
    one move and decides from it alone whether a drag started (its check races the page's
    dragstart); on a busy machine it loses the race and the drop silently never happens."""
    sx, sy = _center(page.locator(f'.file-item[data-path="{path}"] .file-name'))
    box = page.locator("#canvas").bounding_box()
    assert box is not None
    page.mouse.move(sx, sy)
    page.mouse.down()
    page.mouse.move(sx + 12, sy + 4, steps=3)
    page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
    page.mouse.up()


def _saved(page) -> None:
    expect(page.locator("#save-status")).to_have_text("Saved", timeout=10_000)


@pytest.mark.slow
def test_build_a_pipeline_in_the_editor(page, live_server, maker, shot, tmp_path) -> None:
    _sign_in(page, live_server)
    page.click("#new-in-editor")
    shot(page, "editor-new-draft-1440x900")
    page.fill("#draft-name", "mixed languages")
    page.set_input_files("#draft-files", [str(p) for p in _files(tmp_path)])
    page.click("#draft-create button[type=submit]")
    page.wait_for_url(re.compile(r"/editor/[0-9a-f-]+/$"))
    expect(page.locator("#file-list .file-item")).to_have_count(3)
    expect(page.locator("#canvas-empty")).to_be_visible()

    # Three files dragged onto the canvas become three nodes of the right kinds.
    spots = {"load.ipynb": (130, 80), "train.py": (330, 220), "report.R": (130, 360)}
    for name, (x, y) in spots.items():
        _drag_file(page, name, x, y)
    expect(page.locator("#canvas g.enode")).to_have_count(3)
    expect(page.locator("#canvas g.enode.kind-notebook")).to_have_count(1)
    expect(page.locator("#canvas g.enode.kind-python")).to_have_count(1)
    expect(page.locator("#canvas g.enode.kind-r")).to_have_count(1)

    # Connect load -> train -> report, and load -> report.
    _connect(page, "load", "train")
    _connect(page, "train", "report")
    _connect(page, "load", "report")
    expect(page.locator("#canvas g.link")).to_have_count(3)

    # A link back from report to load would close a cycle: refused, with the reason.
    _connect(page, "report", "load")
    expect(page.locator("#canvas-toast")).to_contain_text("would make a cycle")
    expect(page.locator("#canvas g.link")).to_have_count(3)

    # Undo removes the last link, redo brings it back.
    page.click("#tool-undo")
    expect(page.locator("#canvas g.link")).to_have_count(2)
    page.click("#tool-redo")
    expect(page.locator("#canvas g.link")).to_have_count(3)

    # Properties of the notebook node: an image and an env var; a bad memory value is named.
    _node(page, "load").locator("rect.box").click()
    expect(page.locator("#props-title")).to_have_text("load")
    page.get_by_label("Runtime image").fill("localhost/ydp-python:3.11")
    page.get_by_role("button", name="+ Variable").click()
    page.get_by_label("NAME (env 1)").fill("GREETING")
    page.get_by_label("value (env 1)").fill("hello")
    page.get_by_label("Memory (GB)").fill("lots")
    _saved(page)
    expect(page.locator("#props-messages")).to_contain_text("memory must be a number, got 'lots'")
    # ... and under the field itself.
    memory_field = page.locator(".field.has-error", has=page.get_by_label("Memory (GB)"))
    expect(memory_field.locator(".field-error")).to_have_text("memory must be a number, got 'lots'")
    expect(_node(page, "load")).to_have_class(re.compile("has-problems"))
    shot(page, "editor-1440x900")
    page.get_by_label("Memory (GB)").fill("0.5")
    _saved(page)
    expect(page.locator("#props-messages")).to_be_hidden()
    for name in ("train", "report"):
        _node(page, name).locator("rect.box").click()
        expect(page.locator("#props-title")).to_have_text(name)  # its form came
        page.get_by_label("Runtime image").fill("localhost/ydp-python:3.11")
    _saved(page)

    # A reload loses nothing.
    page.reload()
    expect(page.locator("#canvas g.enode")).to_have_count(3)
    expect(page.locator("#canvas g.link")).to_have_count(3)
    _node(page, "load").locator("rect.box").click()
    expect(page.get_by_label("value (env 1)")).to_have_value("hello")
    assert page.js_errors == []

    # The code editor for a script, the read-only notebook view.
    page.locator('.file-item[data-path="train.py"] .file-name').click()
    expect(page.locator("#file-dialog .CodeMirror")).to_be_visible()
    line_numbers = page.locator("#file-dialog .CodeMirror-code .CodeMirror-linenumber")
    expect(line_numbers.first).to_be_visible()
    shot(page, "editor-code-1440x900")
    page.click("#file-close")
    page.locator('.file-item[data-path="load.ipynb"] .file-name').click()
    expect(page.locator("#file-dialog .nb-cell")).to_have_count(2)
    # A notebook is replaced by uploading another under the same path.
    replacement = tmp_path / "replacement.ipynb"
    replacement.write_text(
        json.dumps(
            {
                "cells": [
                    {"cell_type": "markdown", "source": f"# part {i}", "metadata": {}}
                    for i in range(3)
                ],
                "metadata": {},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )
    page.set_input_files("#file-replace-input", str(replacement))
    expect(page.locator("#file-dialog .nb-cell")).to_have_count(3)
    page.click("#file-close")

    # Renaming a file moves the nodes that run it along.
    page.once("dialog", lambda dialog: dialog.accept("analysis/report.R"))
    page.locator('.file-item[data-path="report.R"]').hover()  # its actions show on hover/focus
    page.get_by_role("button", name="Rename report.R").click()
    expect(page.locator('.file-item[data-path="analysis/report.R"]')).to_have_count(1)
    expect(_node(page, "report").locator("text.file")).to_have_text("analysis/report.R")
    _saved(page)

    page.set_viewport_size({"width": 1280, "height": 720})
    page.click("#tool-fit")
    shot(page, "editor-1280x720")

    # Save as version: the version page of a new pipeline.
    page.click("#save-version")
    page.fill("#version-description", "from the editor")
    page.click("#version-submit")
    page.wait_for_url(re.compile(r"/pipelines/\d+/versions/[0-9a-f-]+/$"))
    expect(page.locator(".messages")).to_contain_text("from the editor")
    version = PipelineVersion.objects.get()
    assert version.pipeline.name == "mixed languages"
    nodes = {n["label"]: n for n in version.spec["nodes"]}
    assert nodes["report"]["filename"] == "analysis/report.R"
    assert nodes["load"]["env"] == {"GREETING": "hello"}
    assert nodes["load"]["memory_gb"] == 0.5
    # Typed just before another node was selected: sent and applied before its form went.
    assert {n["runtime_image"] for n in nodes.values()} == {"localhost/ydp-python:3.11"}
    ids = {label: n["id"] for label, n in nodes.items()}
    assert nodes["train"]["depends_on"] == [ids["load"]]
    assert sorted(nodes["report"]["depends_on"]) == sorted([ids["train"], ids["load"]])
    assert Draft.objects.get().pipeline_id == version.pipeline_id
    assert page.js_errors == []


@pytest.mark.any_database  # keyboard use of the canvas
def test_keyboard_only_add_connect_save(page, live_server, maker, tmp_path) -> None:
    _sign_in(page, live_server)
    page.goto(live_server.url + "/editor/")
    page.fill("#draft-name", "keys")
    chosen = [p for p in _files(tmp_path) if p.name in ("load.ipynb", "train.py")]
    page.set_input_files("#draft-files", [str(p) for p in chosen])
    page.click("#draft-create button[type=submit]")
    page.wait_for_url(re.compile(r"/editor/[0-9a-f-]+/$"))
    # Enter on a file adds its node; the canvas keeps the focus.
    page.locator('.file-item[data-path="load.ipynb"] .file-name').focus()
    page.keyboard.press("Enter")
    page.locator('.file-item[data-path="train.py"] .file-name').focus()
    page.keyboard.press("Enter")
    expect(page.locator("#canvas g.enode")).to_have_count(2)
    # "train" is selected: Tab to "load", C, Tab to "train", Enter connects load -> train.
    page.locator("#canvas").focus()
    page.keyboard.press("Tab")
    expect(page.locator("#props-title")).to_have_text("load")
    page.keyboard.press("c")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#canvas g.link")).to_have_count(1)
    page.keyboard.press("Control+z")
    expect(page.locator("#canvas g.link")).to_have_count(0)
    page.keyboard.press("Control+Shift+z")
    expect(page.locator("#canvas g.link")).to_have_count(1)
    _saved(page)
    page.keyboard.press("Control+s")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/pipelines/\d+/versions/[0-9a-f-]+/$"))
    assert PipelineVersion.objects.get().node_count == 2
    assert page.js_errors == []


def _three_node_version(tmp_path: Path) -> PipelineVersion:
    """A 3-node version uploaded as a zip (nodes a -> b -> c), with an R script beside it."""
    import io
    import zipfile

    def node(nid: str, filename: str, after: str | None) -> dict:
        raw = {
            "id": nid,
            "type": "execution_node",
            "op": "execute-python-node",
            "app_data": {
                "label": nid,
                "component_parameters": {"filename": filename, "runtime_image": "python:3.11"},
                "ui_data": {"label": nid, "x_pos": 60 + 260 * "abc".index(nid), "y_pos": 80},
            },
            "inputs": [{"id": "inPort"}],
            "outputs": [{"id": "outPort"}],
        }
        if after:
            raw["inputs"][0]["links"] = [{"id": f"{after}-{nid}", "node_id_ref": after}]
        return raw

    doc = {
        "doc_type": "pipeline",
        "version": "3.0",
        "id": "x",
        "primary_pipeline": "p",
        "pipelines": [
            {
                "id": "p",
                "runtime_ref": "",
                "nodes": [node("a", "a.py", None), node("b", "b.py", "a"), node("c", "c.py", "b")],
                "app_data": {"version": 8, "properties": {"name": "three"}},
            }
        ],
        "schemas": [],
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("three/three.pipeline", json.dumps(doc))
        for name in ("a.py", "b.py", "c.py"):
            archive.writestr(f"three/{name}", "print(1)\n")
        archive.writestr("three/summary.R", "cat('done')\n")
    from apps.pipelines.services import create_version

    return create_version(upload_name="three.zip", data=out.getvalue(), pipeline_name="three")


def test_edit_a_version_into_version_2(page, live_server, maker, shot, tmp_path) -> None:
    first = _three_node_version(tmp_path)
    _sign_in(page, live_server)
    page.goto(live_server.url + first.get_absolute_url())
    page.click("#edit-in-editor")
    page.wait_for_url(re.compile(r"/editor/[0-9a-f-]+/$"))
    expect(page.locator("#canvas g.enode")).to_have_count(3)
    expect(page.locator("#canvas g.link")).to_have_count(2)
    expect(page.locator(".subtitle")).to_contain_text("next version of three")

    # More files: a folder keeps its structure.
    extra = tmp_path / "extra"
    (extra / "data").mkdir(parents=True)
    (extra / "data" / "rows.csv").write_text("a,b\n1,2\n")
    (extra / "helper.py").write_text("X = 1\n")
    page.set_input_files("#folder-input", str(extra))
    expect(page.locator('.file-item[data-path="extra/data/rows.csv"]')).to_have_count(1)
    expect(page.locator('.file-item[data-path="extra/helper.py"]')).to_have_count(1)

    # Add the R script as a node after "c" (drag, connect, image).
    box = page.locator("#canvas").bounding_box()
    _drag_file(page, "summary.R", box["width"] / 2, box["height"] - 80)
    expect(page.locator("#canvas g.enode.kind-r")).to_have_count(1)
    _connect(page, "c", "summary")
    expect(page.locator("#canvas g.link")).to_have_count(3)

    # The label typed is saved and a reload shows it (a reload before the save lands:
    # test_a_reload_mid_edit_loses_nothing).
    expect(page.locator("#save-status")).to_have_text("Saved", timeout=20_000)
    _node(page, "summary").locator("rect.box").click()
    expect(page.locator("#props-title")).to_have_text("summary")
    page.get_by_label("Label").fill("Summary in R")
    _saved(page)
    page.reload()
    expect(_node(page, "Summary in R")).to_have_count(1, timeout=20_000)

    # A second tab that still holds the old revision is told, not obeyed.
    other = page.context.new_page()
    other.goto(page.url)
    expect(other.locator("#canvas g.enode")).to_have_count(4)
    _node(page, "a").locator("rect.box").click()
    expect(page.locator("#props-title")).to_have_text("a")
    page.get_by_label("CPU request").fill("0.5")
    _saved(page)
    _node(other, "b").locator("rect.box").click()
    expect(other.locator("#props-title")).to_have_text("b")
    other.get_by_label("CPU request").fill("2")
    expect(other.locator("#editor-error")).to_contain_text("Someone else changed this draft")
    expect(other.locator("#editor-reload")).to_be_visible()
    shot(other, "editor-conflict-1440x900")
    other.close()

    page.click("#save-run")
    page.click("#version-submit")
    page.wait_for_url(re.compile(r"/runs/new/\?version="))
    second = PipelineVersion.objects.exclude(pk=first.pk).get()
    assert (second.pipeline_id, second.name) == (first.pipeline_id, "v2")
    nodes = {n["label"]: n for n in second.spec["nodes"]}
    assert nodes["Summary in R"]["kind"] == "r"
    assert nodes["Summary in R"]["depends_on"] == ["c"]
    assert nodes["a"]["cpu"] == 0.5 and nodes["b"]["cpu"] is None
    assert f"version={second.pk}" in page.url
    assert page.js_errors == []


@pytest.mark.any_database  # the canvas's layout of 100 nodes
def test_a_hundred_nodes_stay_readable(page, live_server, maker, shot, tmp_path) -> None:
    from apps.editor import services

    draft = services.create_from_files(
        owner=maker,
        name="wide",
        uploads=[(f"wide/step_{i:03d}.py", b"print(1)\n") for i in range(100)],
    )
    nodes = []
    for i in range(100):
        after = [f"n{i - 10}"] if i >= 10 else []
        nodes.append(
            {
                "id": f"n{i}",
                "label": f"step {i:03d}",
                "filename": f"step_{i:03d}.py",
                "depends_on": after,
                "runtime_image": "python:3.11",
            }
        )
    services.save_document(draft, {"name": "wide", "nodes": nodes}, revision=draft.revision)
    _sign_in(page, live_server)
    started = time.monotonic()
    page.goto(live_server.url + draft.get_absolute_url())
    expect(page.locator("#canvas g.enode")).to_have_count(100)
    elapsed = time.monotonic() - started
    _saved(page)  # the layout is saved; the canvas is redrawn with the server's check
    # No positions stored: the page lays the graph out in layers (10 columns of 10) and fits it.
    transforms = [
        page.locator("#canvas g.enode").nth(i).get_attribute("transform") for i in range(0, 100, 10)
    ]
    xs = {re.match(r"translate\(([-\d.]+),", t).group(1) for t in transforms}
    assert len(xs) == 10
    _saved(page)
    page.click("#tool-zoom-in")
    page.click("#tool-zoom-in")
    shot(page, "editor-100-nodes-1440x900")
    print(f"100-node draft: page ready in {elapsed:.2f}s")
    assert page.js_errors == []


def _draft_with_nodes(maker, *names: str):
    from apps.editor import services

    draft = services.create_from_files(
        owner=maker, name="small", uploads=[(f"small/{n}", b"print(1)\n") for n in names]
    )
    nodes = [
        {"id": f"n{i}", "label": n.rsplit(".", 1)[0], "filename": n, "x": 60 + 280 * i, "y": 80}
        for i, n in enumerate(names)
    ]
    services.save_document(draft, {"name": "small", "nodes": nodes}, revision=draft.revision)
    return draft


@pytest.mark.any_database  # the palette's focus and a drag while an answer lands
def test_an_edit_landing_keeps_the_palette(page, live_server, maker) -> None:
    """The panel's answers land a moment after typing, whatever the user does meanwhile. One that
    lands must leave the palette as it is (it used to be rebuilt on every edit): the file button
    that has the keyboard's focus keeps it, and a drag that has started still drops its node."""
    from apps.editor import services

    draft = services.create_from_files(
        owner=maker,
        name="small",
        uploads=[("small/prep.py", b"print(1)\n"), ("small/fit.py", b"print(2)\n")],
    )
    _sign_in(page, live_server)
    page.goto(live_server.url + draft.get_absolute_url())
    landed = (
        "name => document.body.dispatchEvent(new CustomEvent('ydp:properties',"
        " {detail: {values: {name: name}}}))"
    )
    item = page.locator('.file-item[data-path="fit.py"]')
    item.locator(".file-name").focus()
    page.evaluate(landed, "renamed while focused")
    expect(page.locator("#editor-title")).to_have_text("renamed while focused")
    expect(item.locator(".file-name")).to_be_focused()

    x, y = _center(item.locator(".file-name"))
    cx, cy = _center(page.locator("#canvas"))
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 30, y + 5, steps=3)  # the drag has started
    page.evaluate(landed, "renamed mid-drag")
    page.mouse.move(cx, cy, steps=8)
    page.mouse.up()
    expect(_node(page, "fit")).to_have_count(1)
    # The palette marks the file used, in place.
    expect(item.locator(".file-used")).to_have_count(1)
    expect(page.locator('.file-item[data-path="prep.py"] .file-used')).to_have_count(0)
    _saved(page)
    stored = Draft.objects.get().document
    assert stored["name"] == "renamed mid-drag"
    assert [n["filename"] for n in stored["nodes"]] == ["fit.py"]
    assert page.js_errors == []


def test_a_reload_mid_edit_loses_nothing(page, live_server, maker) -> None:
    """Edits wait in localStorage until saved: with every save refused on the way (as when the
    page unloads before the autosave fires), a reload still shows them, and saves them."""
    draft = _draft_with_nodes(maker, "prep.py", "fit.py")
    _sign_in(page, live_server)
    page.goto(live_server.url + draft.get_absolute_url())
    blocked = {"on": True}

    def saves(route) -> None:
        if blocked["on"] and route.request.method == "POST":
            route.abort()
        else:
            route.continue_()

    page.route("**/document/", saves)
    _node(page, "prep").locator("rect.box").click()
    expect(page.locator("#props-title")).to_have_text("prep")
    page.get_by_label("CPU request").fill("1.5")
    page.get_by_label("Label").fill("prepare")
    # The server's form answered (the canvas shows the new label); the save did not land.
    expect(_node(page, "prepare")).to_have_count(1)
    expect(page.locator("#save-status")).to_have_text(re.compile("not saved"), timeout=10_000)
    assert Draft.objects.get().document["nodes"][0]["label"] == "prep"

    page.reload()
    blocked["on"] = False
    expect(_node(page, "prepare")).to_have_count(1, timeout=10_000)
    _node(page, "prepare").locator("rect.box").click()
    expect(page.get_by_label("CPU request")).to_have_value("1.5")
    _saved(page)
    stored = Draft.objects.get().document["nodes"][0]
    assert (stored["label"], stored["cpu"]) == ("prepare", "1.5")
    assert page.js_errors == []


@pytest.mark.any_database  # the page asking before it unloads
def test_leaving_right_after_typing_asks_first_and_keeps_the_edit(page, live_server, maker) -> None:
    """An edit typed in the panel reaches the document with the server's answer, 350 ms after
    the last key: a reload before that asks to stay (the edit is sent meanwhile), then finds it."""
    draft = _draft_with_nodes(maker, "prep.py")
    _sign_in(page, live_server)
    page.goto(live_server.url + draft.get_absolute_url())
    _node(page, "prep").locator("rect.box").click()
    expect(page.locator("#props-title")).to_have_text("prep")
    asked: list[str] = []
    posted: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    page.on("request", lambda r: posted.append(r.url) if "/properties/" in r.url else None)
    page.get_by_label("Label").fill("prepare")
    sent_before_leaving = len(posted)
    page.evaluate("() => { location.reload(); }")  # the user leaves at once
    if not sent_before_leaving:  # still typed only: the page must ask (a busy machine may not)
        deadline = time.monotonic() + 5
        while not asked and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert asked == ["beforeunload"]
    _saved(page)
    assert Draft.objects.get().document["nodes"][0]["label"] == "prepare"
    page.reload()
    expect(_node(page, "prepare")).to_have_count(1, timeout=10_000)
    assert page.js_errors == []


@pytest.mark.any_database  # showing a refusal the test makes up
def test_a_refused_edit_says_so(page, live_server, maker, shot) -> None:
    """The server refusing an edit (400: here its answer is made up, as the form's limits keep a
    user from sending what it refuses) is shown, not swallowed; the next accepted edit clears it."""
    draft = _draft_with_nodes(maker, "prep.py")
    _sign_in(page, live_server)
    page.goto(live_server.url + draft.get_absolute_url())
    _node(page, "prep").locator("rect.box").click()
    expect(page.locator("#props-title")).to_have_text("prep")
    refuse = {"on": True}

    def properties(route) -> None:
        if refuse["on"] and route.request.method == "POST":
            route.fulfill(status=400, body="Label is longer than 4096 characters.")
        else:
            route.continue_()

    page.route("**/properties/", properties)
    page.get_by_label("Label").fill("refused")
    expect(page.locator("#editor-error")).to_be_visible()
    expect(page.locator("#editor-error-text")).to_have_text("Label is longer than 4096 characters.")
    expect(page.locator("#save-status")).to_have_text("Not saved")
    shot(page, "editor-refused-edit")
    assert Draft.objects.get().document["nodes"][0]["label"] == "prep"
    refuse["on"] = False
    page.get_by_label("Label").fill("accepted")
    expect(page.locator("#editor-error")).to_be_hidden()
    _saved(page)
    assert Draft.objects.get().document["nodes"][0]["label"] == "accepted"
    assert page.js_errors == []


DROP = """([files, dx, dy]) => {
  const transfer = new DataTransfer();
  for (const [name, text] of files) transfer.items.add(new File([text], name));
  const wrap = document.getElementById("canvas-wrap");
  const box = wrap.getBoundingClientRect();
  const init = {bubbles: true, cancelable: true, dataTransfer: transfer,
                clientX: box.left + dx, clientY: box.top + dy};
  wrap.dispatchEvent(new DragEvent("dragenter", init));
  wrap.dispatchEvent(new DragEvent("dragover", init));
  wrap.dispatchEvent(new DragEvent("drop", init));
}"""


@pytest.mark.any_database  # a drop from the desktop
def test_files_dropped_from_the_desktop_become_nodes(page, live_server, maker) -> None:
    draft = _draft_with_nodes(maker, "prep.py")
    _sign_in(page, live_server)
    page.goto(live_server.url + draft.get_absolute_url())
    expect(page.locator("#canvas g.enode")).to_have_count(1)
    notebook = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    files = [["plot.R", "cat(1)\n"], ["explore.ipynb", notebook], ["notes.txt", "n\n"]]
    page.evaluate(DROP, [files, 260, 200])
    # Uploaded into the draft; the runnable ones are nodes of their kind, the text file is not.
    expect(page.locator('.file-item[data-path="notes.txt"]')).to_have_count(1)
    expect(page.locator("#canvas g.enode")).to_have_count(3)
    expect(page.locator("#canvas g.enode.kind-r")).to_have_count(1)
    expect(page.locator("#canvas g.enode.kind-notebook")).to_have_count(1)
    expect(_node(page, "plot")).to_have_count(1)
    _saved(page)
    stored = Draft.objects.get()
    assert sorted(stored.files.values_list("path", flat=True)) == [
        "explore.ipynb",
        "notes.txt",
        "plot.R",
        "prep.py",
    ]
    assert sorted(n["filename"] for n in stored.document["nodes"]) == [
        "explore.ipynb",
        "plot.R",
        "prep.py",
    ]
    assert page.js_errors == []


@pytest.mark.any_database  # how the demo's graph and panel look
def test_the_demo_in_the_editor_looks_right(page, live_server, maker, shot) -> None:
    """The demo's folder as a draft (its .pipeline gives the graph), at 1440x900 and 1280x720:
    the pipeline's properties, then a node's with a problem on a field. Nothing overflows."""
    from apps.editor import services
    from tests.integration.helpers import ROOT

    folder = ROOT / "examples" / "demo"
    uploads = [
        (f"demo/{path.relative_to(folder)}", path.read_bytes())
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    ]
    draft = services.create_from_files(owner=maker, name="Customer churn", uploads=uploads)
    _sign_in(page, live_server)
    for width, height in ((1440, 900), (1280, 720)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(live_server.url + draft.get_absolute_url())
        expect(page.locator("#canvas g.enode")).to_have_count(4)
        expect(page.locator("#props-title")).to_have_text("Pipeline")
        shot(page, f"editor-pipeline-{width}x{height}")
        _node(page, "Train model").locator("rect.box").click()
        expect(page.locator("#props-title")).to_have_text("Train model")
        page.get_by_label("Memory (GB)").fill("lots")
        message = page.locator(".field.has-error .field-error")
        expect(message).to_have_text("memory must be a number, got 'lots'")
        expect(_node(page, "Train model")).to_have_class(re.compile("has-problems"))
        page.locator("#props").evaluate("el => el.scrollTop = 0")
        shot(page, f"editor-node-{width}x{height}")
        # Nothing wider than its pane (no horizontal scrollbars in the panes or the page).
        for selector in ("#props", ".editor-files", "html"):
            overflow = page.locator(selector).evaluate("el => el.scrollWidth - el.clientWidth")
            assert overflow <= 1, (selector, width, overflow)
        page.get_by_label("Memory (GB)").fill("4")
        _saved(page)
    # The lists of the Kubernetes section: a row added by the server, its bad value named.
    page.locator("#props summary", has_text="Kubernetes").click()
    page.get_by_role("button", name="+ Volume").click()
    page.get_by_label("/mount/path (volumes 1)").fill("/data")
    page.get_by_label("pvc-name (volumes 1)").fill("Not_A_Name")
    expect(page.locator(".records.has-error .field-error")).to_contain_text("PVC name")
    page.locator("#props").evaluate("el => el.scrollTop = el.scrollHeight")
    shot(page, "editor-node-kubernetes-1280x720")
    assert page.js_errors == []
