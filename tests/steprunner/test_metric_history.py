"""log_metric in a real step: the runner puts the helper on the node's path (Python scripts,
notebooks, R) and the points land as JSON lines in <out-dir>/metric-history.jsonl."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.steprunner.helpers import make_bundle, run_step
from tests.steprunner.test_notebooks import notebook


def history(step) -> list[dict]:
    path = step.out / "metric-history.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_python_script_logs_points_with_and_without_a_step(tmp_path):
    script = (
        "from ydp_metrics import log_metric\n"
        "for epoch in range(5):\n"
        "    log_metric('loss', 1.0 / (epoch + 1), step=epoch)\n"
        "log_metric('acc', 0.5)\n"
        "log_metric('acc', 0.75)\n"
        "log_metric('acc', 0.9, step=10)\n"
    )
    bundle = make_bundle(tmp_path / "b.zip", {"train.py": script})
    step = run_step(tmp_path, "py", "--kind", "python", "--file", "train.py", bundle=bundle)
    assert step.code == 0, step.log
    points = history(step)
    assert [(p["name"], p["step"], p["value"]) for p in points] == [
        ("loss", 0, 1.0),
        ("loss", 1, 0.5),
        ("loss", 2, 1 / 3),
        ("loss", 3, 0.25),
        ("loss", 4, 0.2),
        # Without a step: the previous one of that name + 1, from 0.
        ("acc", 0, 0.5),
        ("acc", 1, 0.75),
        ("acc", 10, 0.9),
    ]
    assert all(isinstance(p["time"], float) for p in points)


def test_a_bad_name_or_value_stops_the_script_with_a_clear_error(tmp_path):
    script = "from ydp_metrics import log_metric\nlog_metric('bad name', 1)\n"
    other = "from ydp_metrics import log_metric\nlog_metric('loss', 'low')\n"
    bundle = make_bundle(tmp_path / "b.zip", {"a.py": script, "b.py": other})
    step = run_step(tmp_path, "a", "--kind", "python", "--file", "a.py", bundle=bundle)
    assert step.code == 1
    assert "ValueError: log_metric: name 'bad name' must be 1-64 letters" in step.log
    step = run_step(tmp_path, "b", "--kind", "python", "--file", "b.py", bundle=bundle)
    assert step.code == 1
    assert "TypeError: log_metric: value 'low' of loss is not a number" in step.log


def test_plain_lines_appended_by_a_script_are_the_same_format(tmp_path):
    # What docs/steps.md tells shell or any language to do: append JSON lines to the file.
    script = (
        "import json, os\n"
        "with open(os.environ['YDP_METRIC_LOG'], 'a') as f:\n"
        "    f.write(json.dumps({'name': 'loss', 'value': 0.3, 'step': 7}) + '\\n')\n"
    )
    bundle = make_bundle(tmp_path / "b.zip", {"s.py": script})
    step = run_step(tmp_path, "s", "--kind", "python", "--file", "s.py", bundle=bundle)
    assert step.code == 0, step.log
    assert history(step) == [{"name": "loss", "value": 0.3, "step": 7}]


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed here")
def test_r_script_sources_the_helper(tmp_path):
    script = (
        'source(file.path(Sys.getenv("YDP_METRIC_LIB"), "ydp_metrics.R"))\n'
        'for (epoch in 0:2) log_metric("loss", 1 / (epoch + 2))\n'
        'log_metric("rmse", 0.125, step = 4)\n'
    )
    bundle = make_bundle(tmp_path / "b.zip", {"fit.r": script})
    step = run_step(tmp_path, "r", "--kind", "r", "--file", "fit.r", bundle=bundle)
    assert step.code == 0, step.log
    assert [(p["name"], p["step"], p["value"]) for p in history(step)] == [
        ("loss", 0, 0.5),
        ("loss", 1, 1 / 3),
        ("loss", 2, 0.25),
        ("rmse", 4, 0.125),
    ]


def test_notebook_kernel_sees_the_helper(tmp_path):
    nb = notebook(
        "from ydp_metrics import log_metric",
        "for epoch in range(3):\n    log_metric('loss', 3 - epoch)",
    )
    bundle = make_bundle(tmp_path / "b.zip", {"nb.ipynb": nb})
    step = run_step(tmp_path, "nb", "--kind", "notebook", "--file", "nb.ipynb", bundle=bundle)
    assert step.code == 0, step.log
    assert [(p["step"], p["value"]) for p in history(step)] == [(0, 3.0), (1, 2.0), (2, 1.0)]
