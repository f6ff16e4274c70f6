"""The step runner on Python and R scripts: unpacking, dependencies, upstream outputs, declared
outputs, Kubeflow metrics/visualizations, and the errors it reports itself. No Jupyter kernel."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from tests.steprunner.helpers import make_bundle, run_step
from ydpipelines import steprunner


def script(source: str) -> str:
    return textwrap.dedent(source).lstrip()


def test_python_script_runs_in_its_folder_with_env_and_exit_code(tmp_path):
    bundle = make_bundle(
        tmp_path / "b.zip",
        {
            "jobs/etl.py": script(
                """
                import os, sys
                print("cwd", os.getcwd())
                print("alpha", os.environ["ALPHA"], "unbuffered", os.environ["PYTHONUNBUFFERED"])
                os.makedirs("results/sub", exist_ok=True)
                open("results/sub/a.csv", "w").write("x\\n1\\n")
                open("results/b.csv", "w").write("y\\n2\\n")
                open("summary.txt", "w").write("done")
                sys.exit(int(os.environ.get("EXIT", "0")))
                """
            ),
            "other/not_mine.py": "print('never')",
        },
    )
    args = ["--kind", "python", "--file", "jobs/etl.py", "--output", "results/**/*.csv"]
    step = run_step(tmp_path, "ok", *args, "--output", "summary.txt", bundle=bundle,
                    env={"ALPHA": "0.5"})  # fmt: skip
    assert step.code == 0, step.log
    node_dir = (step.work / "jobs").resolve()
    assert f"cwd {node_dir}" in step.log
    assert "alpha 0.5 unbuffered 1" in step.log
    assert "[ydp] unpacking jobs/etl.py" in step.log
    assert "[ydp] running Python script etl.py" in step.log
    assert "[ydp] collected outputs: results/b.csv, results/sub/a.csv, summary.txt" in step.log
    assert step.log.rstrip().splitlines()[-1].startswith("[ydp] exit code 0")
    assert (step.out / "outputs/results/sub/a.csv").read_text() == "x\n1\n"
    assert (step.out / "outputs/summary.txt").read_text() == "done"
    # Only the node's file (and its dependencies) come out of the bundle.
    assert not (step.work / "other").exists()

    failed = run_step(tmp_path, "fail", *args, bundle=bundle, env={"ALPHA": "1", "EXIT": "3"})
    assert failed.code == 3
    assert "[ydp] exit code 3" in failed.log
    # The real failure is the story: no "missing output" error on top of it.
    assert "error:" not in failed.log


def test_missing_declared_output_is_an_error_naming_it(tmp_path):
    bundle = make_bundle(tmp_path / "b.zip", {"make.py": "open('model.json', 'w').write('{}')\n"})
    step = run_step(
        tmp_path,
        "s",
        *["--kind", "python", "--file", "make.py", "--output", "model.json"],
        *["--output", "metrics/*.csv", "--output", "report.html"],
        bundle=bundle,
    )
    assert step.code == 2
    assert "declared output(s) not produced: 'metrics/*.csv', 'report.html'" in step.log
    assert (step.out / "outputs/model.json").exists()


def test_r_script_runs_with_rscript_and_env(tmp_path):
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript is absent: install Debian's r-base-core to run R steps")
    bundle = make_bundle(
        tmp_path / "b.zip",
        {
            "r/fit.r": script(
                """
                n <- as.integer(Sys.getenv("N_ROWS"))
                df <- data.frame(x = seq_len(n), y = seq_len(n) * 2)
                write.csv(df, "fitted.csv", row.names = FALSE)
                cat("rows:", nrow(df), "\\n")
                writeLines('{"metrics": [{"name": "rows", "numberValue": 4}]}',
                           "mlpipeline-metrics.json")
                """
            )
        },
    )
    args = ["--kind", "r", "--file", "r/fit.r", "--output", "fitted.csv"]
    step = run_step(tmp_path, "r", *args, bundle=bundle, env={"N_ROWS": "4"})
    assert step.code == 0, step.log
    assert "[ydp] running R script fit.r" in step.log
    assert "rows: 4" in step.log
    assert (step.out / "outputs/fitted.csv").read_text().count("\n") == 5
    assert step.json("mlpipeline-metrics.json") == {
        "metrics": [{"name": "rows", "numberValue": 4, "format": "RAW"}]
    }

    crash = make_bundle(tmp_path / "c.zip", {"bad.r": 'stop("model did not converge")\n'})
    failed = run_step(tmp_path, "crash", "--kind", "r", "--file", "bad.r", bundle=crash)
    assert failed.code == 1
    assert "model did not converge" in failed.log


def test_r_script_without_rscript_says_what_to_install(tmp_path):
    bundle = make_bundle(tmp_path / "b.zip", {"fit.r": "cat('hi')\n"})
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    step = run_step(
        tmp_path,
        "r",
        "--kind",
        "r",
        "--file",
        "fit.r",
        bundle=bundle,
        env={"PATH": str(empty_path)},
    )
    assert step.code == 127
    assert "[ydp] Rscript not found: install R (r-base-core)" in step.log


def test_dependency_globs_with_and_without_subdirectories(tmp_path):
    files = {
        "flow/node.py": script(
            """
            import pathlib
            for p in sorted(pathlib.Path(".").rglob("*")):
                if p.is_file():
                    print("HAS", p.as_posix())
            """
        ),
        "flow/util.py": "",
        "flow/helpers/extra.py": "",
        "flow/helpers/deep/more.py": "",
        "flow/data/a.csv": "a",
        "flow/data/b.txt": "b",
        "flow/data/nested/c.csv": "c",
        "flow/.ipynb_checkpoints/util-checkpoint.py": "",
        "elsewhere/x.py": "",
    }
    bundle = make_bundle(tmp_path / "b.zip", files)
    deps = ["--dependency", "*.py", "--dependency", "data/*.csv"]

    def seen(step):
        assert step.code == 0, step.log
        return {line[4:] for line in step.log.splitlines() if line.startswith("HAS ")}

    flat = run_step(tmp_path, "flat", "--kind", "python", "--file", "flow/node.py", *deps,
                    bundle=bundle)  # fmt: skip
    assert seen(flat) == {"node.py", "util.py", "data/a.csv"}

    deep = run_step(tmp_path, "deep", "--kind", "python", "--file", "flow/node.py", *deps,
                    "--include-subdirectories", bundle=bundle)  # fmt: skip
    assert seen(deep) == {
        "node.py",
        "util.py",
        "helpers/extra.py",
        "helpers/deep/more.py",
        "data/a.csv",
        "data/nested/c.csv",
    }

    folder = run_step(tmp_path, "folder", "--kind", "python", "--file", "flow/node.py",
                      "--dependency", "data", bundle=bundle)  # fmt: skip
    assert seen(folder) == {"node.py", "data/a.csv", "data/b.txt"}

    missing = run_step(tmp_path, "missing", "--kind", "python", "--file", "flow/node.py",
                       "--dependency", "data/absent.csv", bundle=bundle)  # fmt: skip
    assert missing.code == 2
    assert "dependency 'data/absent.csv' of flow/node.py is not in the bundle" in missing.log


def test_dependency_selection_rules():
    files = ["a.py", "b.csv", "lib/c.py", "lib/sub/d.py", "data/e.csv", ".hidden/f.py"]
    select = steprunner.select_dependencies
    assert select(files, ["*"], recursive=False) == ({"a.py", "b.csv"}, [])
    assert select(files, ["*"], recursive=True)[0] == set(files) - {".hidden/f.py"}
    assert select(files, ["lib/*"], recursive=False)[0] == {"lib/c.py"}
    assert select(files, ["lib/*"], recursive=True)[0] == {"lib/c.py", "lib/sub/d.py"}
    assert select(files, ["./lib/"], recursive=True)[0] == {"lib/c.py", "lib/sub/d.py"}
    assert select(files, ["*.txt"], recursive=True) == (set(), ["*.txt"])


def test_upstream_outputs_land_in_the_node_folder(tmp_path):
    bundle = make_bundle(
        tmp_path / "b.zip",
        {"steps/use.py": "print(open('prepared/train.csv').read(), open('model.json').read())\n"},
    )
    extracted = tmp_path / "upstream" / "prepare"
    (extracted / "prepared").mkdir(parents=True)
    (extracted / "prepared" / "train.csv").write_text("x,y")
    # An artifact that arrives still archived (a tgz file) is extracted too.
    archive = tmp_path / "upstream" / "train"
    with tarfile.open(archive, "w:gz") as tar:
        data = b'{"depth": 3}'
        info = tarfile.TarInfo("model.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    absent = tmp_path / "upstream" / "profile"
    step = run_step(
        tmp_path,
        "use",
        *["--kind", "python", "--file", "steps/use.py"],
        *["--upstream", str(extracted), "--upstream", str(archive), "--upstream", str(absent)],
        bundle=bundle,
    )
    assert step.code == 0, step.log
    assert 'x,y {"depth": 3}' in step.log
    assert f"[ydp] upstream {extracted}: prepared/train.csv" in step.log
    assert (step.work / "steps/prepared/train.csv").exists()


def test_zip_entries_escaping_the_workdir_are_refused(tmp_path):
    bundle = make_bundle(
        tmp_path / "b.zip", {"run.py": "print('ran')\n", "../../escaped.py": "print('evil')\n"}
    )
    step = run_step(tmp_path, "s", "--kind", "python", "--file", "run.py", bundle=bundle)
    assert step.code == 2
    assert "bundle entry '../../escaped.py' escapes the work directory: refusing it" in step.log
    assert "ran" not in step.log.replace("[ydp]", "")
    assert not list(tmp_path.rglob("escaped.py"))

    absolute = make_bundle(tmp_path / "abs.zip", {"run.py": "", "/etc/ydp-evil": ""})
    step = run_step(tmp_path, "abs", "--kind", "python", "--file", "run.py", bundle=absolute)
    assert step.code == 2
    assert "escapes the work directory" in step.log

    fine = make_bundle(tmp_path / "ok.zip", {"run.py": "print('ran')"})
    step = run_step(tmp_path, "o", "--kind", "python", "--file", "run.py",
                    "--output", "../../stolen.txt", bundle=fine)  # fmt: skip
    assert step.code == 2
    assert "output '../../stolen.txt' escapes the work directory" in step.log
    assert "ran" not in step.log.replace("[ydp]", "")

    step = run_step(tmp_path, "f", "--kind", "python", "--file", "../run.py", bundle=fine)
    assert step.code == 2
    assert "node file '../run.py' escapes the work directory" in step.log


def test_missing_node_file_and_bundle_are_clear_errors(tmp_path):
    bundle = make_bundle(tmp_path / "b.zip", {"a.py": ""})
    step = run_step(tmp_path, "s", "--kind", "python", "--file", "b.py", bundle=bundle)
    assert step.code == 2
    assert f"[ydp] error: file 'b.py' is not in the bundle {bundle}" in step.log
    step = run_step(tmp_path, "t", "--kind", "python", "--file", "a.py", bundle=tmp_path / "no.zip")
    assert step.code == 2
    assert "does not exist" in step.log


def test_metrics_and_ui_metadata_are_validated_and_file_sources_inlined(tmp_path):
    writer = script(
        """
        import json
        json.dump({"metrics": [
            {"name": "accuracy", "numberValue": 0.91, "format": "PERCENTAGE"},
            {"name": "loss", "numberValue": "0.25"},
            {"name": "Bad Name!", "numberValue": 1},
            {"name": "nan", "numberValue": float("nan")},
            {"name": "text", "numberValue": "high"},
        ]}, open("mlpipeline-metrics.json", "w"))
        open("cm.csv", "w").write("cat,cat,5\\ncat,dog,1\\ndog,cat,2\\ndog,dog,7\\n")
        open("report.html", "w").write("<h1>Report</h1>")
        json.dump({"outputs": [
            {"type": "confusion_matrix", "format": "csv", "source": "cm.csv",
             "schema": [{"name": "target", "type": "CATEGORY"},
                        {"name": "predicted", "type": "CATEGORY"},
                        {"name": "count", "type": "NUMBER"}],
             "labels": ["cat", "dog"]},
            {"type": "web-app", "storage": "minio", "source": "file://report.html"},
            {"type": "markdown", "storage": "inline", "source": "# Hello"},
            {"type": "tensorboard", "source": "gs://bucket/logs"},
            {"type": "table", "format": "csv", "header": ["a", "b"], "source": "absent.csv"},
            {"type": "roc", "format": "csv", "storage": "inline", "source": "0,0,1\\n1,1\\n",
             "schema": [{"name": "fpr"}, {"name": "tpr"}, {"name": "thresholds"}]},
            {"type": "pie-chart", "source": "x"},
        ]}, open("mlpipeline-ui-metadata.json", "w"))
        """
    )
    bundle = make_bundle(tmp_path / "b.zip", {"w.py": writer})
    step = run_step(tmp_path, "s", "--kind", "python", "--file", "w.py", bundle=bundle)
    assert step.code == 0, step.log  # malformed entries warn, never fail the step
    assert step.json("mlpipeline-metrics.json") == {
        "metrics": [
            {"name": "accuracy", "numberValue": 0.91, "format": "PERCENTAGE"},
            {"name": "loss", "numberValue": 0.25, "format": "RAW"},
        ]
    }
    assert "WARNING: ignoring mlpipeline-metrics.json metrics[2]: name 'Bad Name!'" in step.log
    assert "metrics[3] (nan): numberValue nan is not a number" in step.log
    assert "metrics[4] (text): numberValue 'high' is not a number" in step.log

    outputs = step.json("mlpipeline-ui-metadata.json")["outputs"]
    assert [o["type"] for o in outputs] == [
        "confusion_matrix",
        "web-app",
        "markdown",
        "tensorboard",
    ]
    cm, web, _, board = outputs
    assert cm["storage"] == "inline"
    assert cm["source"] == "cat,cat,5\ncat,dog,1\ndog,cat,2\ndog,dog,7\n"
    assert cm["labels"] == ["cat", "dog"]
    assert web == {"type": "web-app", "storage": "inline", "source": "<h1>Report</h1>"}
    assert board["source"] == "gs://bucket/logs"
    assert "outputs[4] (table): source file 'absent.csv' does not exist" in step.log
    assert "outputs[5] (roc): CSV row 2 has 2 fields, expected 3" in step.log
    assert "outputs[6]: type 'pie-chart' is not one of" in step.log


def test_unparseable_kubeflow_files_warn_and_are_left_out(tmp_path):
    writer = script(
        """
        open("mlpipeline-metrics.json", "w").write("{not json")
        open("mlpipeline-ui-metadata.json", "w").write('{"outputs": {"type": "markdown"}}')
        """
    )
    bundle = make_bundle(tmp_path / "b.zip", {"w.py": writer})
    step = run_step(tmp_path, "s", "--kind", "python", "--file", "w.py", bundle=bundle)
    assert step.code == 0, step.log
    assert "WARNING: ignoring mlpipeline-metrics.json: it is not valid JSON" in step.log
    assert "WARNING: ignoring mlpipeline-ui-metadata.json: expected" in step.log
    assert not (step.out / "mlpipeline-metrics.json").exists()
    assert not (step.out / "mlpipeline-ui-metadata.json").exists()


def test_runs_under_a_bare_interpreter_and_explains_a_missing_papermill(tmp_path):
    """The runner itself needs only the standard library: run it with a Python outside the
    project's venv. A notebook there needs papermill: with installing forbidden, a clear error."""
    bare = next(
        (
            p
            for p in (shutil.which("python3"), "/usr/bin/python3")
            if p and Path(p).exists() and Path(p).resolve() != Path(sys.executable).resolve()
        ),
        None,
    )
    if bare is None:
        pytest.skip("no Python interpreter outside the venv to run the runner with")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    if (
        subprocess.run([bare, "-c", "import papermill"], env=env, capture_output=True).returncode
        == 0
    ):
        pytest.skip(f"{bare} has papermill installed: cannot show the missing-papermill message")
    bundle = make_bundle(
        tmp_path / "b.zip",
        {"s.py": "import sys; print(sys.version_info[:2])\n", "n.ipynb": json.dumps({"cells": []})},
    )
    ok = run_step(tmp_path, "s", "--kind", "python", "--file", "s.py", bundle=bundle, python=bare)
    assert ok.code == 0, ok.log
    step = run_step(tmp_path, "n", "--kind", "notebook", "--file", "n.ipynb", bundle=bundle,
                    python=bare, env={"YDP_NO_PIP_INSTALL": "1"})  # fmt: skip
    assert step.code == 2
    assert "papermill/nbconvert are not installed in this image" in step.log
    assert "install papermill and nbconvert in the runtime image" in step.log


def test_sigterm_stops_the_step_and_its_child(tmp_path):
    """Stop/terminate kill the step with SIGTERM: the runner passes it on and exits 143."""
    import signal
    import time

    from tests.steprunner.helpers import RUNNER

    source = "import os, time\nprint('child', os.getpid(), flush=True)\ntime.sleep(60)\n"
    bundle = make_bundle(tmp_path / "b.zip", {"wait.py": source})
    cmd = [sys.executable, str(RUNNER), "--kind", "python", "--file", "wait.py"]
    cmd += [
        "--bundle",
        str(bundle),
        "--workdir",
        str(tmp_path / "w"),
        "--out-dir",
        str(tmp_path / "o"),
    ]
    log = tmp_path / "log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while "child " not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(log.read_text().split("child ")[1].split()[0])
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
    assert "[ydp] stopping: SIGTERM received" in log.read_text()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{child}/stat").read_text().split()[2]
        except FileNotFoundError:
            break
        if state == "Z":  # exited, waiting for a reaper: gone as far as the step goes
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the step's child {child} outlived the runner")
