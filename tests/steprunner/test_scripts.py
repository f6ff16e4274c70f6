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
from ydpipelines.localargo.artifacts import Repository


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


def test_a_grandchild_sees_its_grandparent_files_through_its_parent(tmp_path):
    """Three steps a -> b -> c chained as the engine chains them: each step's out/outputs saved
    as a tgz artifact, then extracted into the child's --upstream dir. c is given b's outputs
    only (its direct parent) and still finds a's files (docs/steps.md, "Upstream outputs")."""
    bundle = make_bundle(
        tmp_path / "b.zip",
        {
            "a.py": script(
                """
                import os
                os.makedirs("data", exist_ok=True)
                open("data/raw.csv", "w").write("raw from a")
                open("note.txt", "w").write("note from a")
                """
            ),
            "b.py": script(
                """
                print("b sees", open("data/raw.csv").read())
                open("data/raw.csv", "w").write("changed by b")  # not declared: not passed on
                open("clean.csv", "w").write("clean from b")
                open("note.txt", "w").write("note from b")  # declared: wins over a's
                """
            ),
            "c.py": script(
                """
                for name in ("data/raw.csv", "clean.csv", "note.txt"):
                    print("c sees", name, "=", open(name).read())
                """
            ),
        },
    )
    repo = Repository(tmp_path / "repository")

    def handed_over(parent: str, step) -> str:
        """What the engine does between two steps: save the parent's `outputs` artifact (a tgz),
        then place it in the child's /tmp/ydp/upstream/<parent>."""
        key = repo.save(step.out / "outputs", f"wf/{parent}", {"name": "outputs"})
        assert key == f"wf/{parent}/outputs.tgz"
        dest = tmp_path / "upstream" / parent
        repo.place(key, dest)
        assert dest.is_dir()
        return str(dest)

    a = run_step(tmp_path, "a", "--kind", "python", "--file", "a.py",
                 "--output", "data/raw.csv", "--output", "note.txt", bundle=bundle)  # fmt: skip
    assert a.code == 0, a.log
    b = run_step(tmp_path, "b", "--kind", "python", "--file", "b.py",
                 "--output", "clean.csv", "--output", "note.txt",
                 "--upstream", handed_over("a", a), bundle=bundle)  # fmt: skip
    assert b.code == 0, b.log
    assert "b sees raw from a" in b.log
    assert "[ydp] passing on 2 upstream file(s) with this step's outputs" in b.log
    passed = {p.relative_to(b.out / "outputs").as_posix() for p in (b.out / "outputs").rglob("*")}
    assert passed == {"data", "data/raw.csv", "clean.csv", "note.txt"}
    # What b was given, not what it did to it; its declared note.txt wins over a's.
    assert (b.out / "outputs/data/raw.csv").read_text() == "raw from a"
    assert (b.out / "outputs/note.txt").read_text() == "note from b"

    c = run_step(tmp_path, "c", "--kind", "python", "--file", "c.py",
                 "--upstream", handed_over("b", b), bundle=bundle)  # fmt: skip
    assert c.code == 0, c.log
    assert "c sees data/raw.csv = raw from a" in c.log
    assert "c sees clean.csv = clean from b" in c.log
    assert "c sees note.txt = note from b" in c.log
    # c declares no output and still passes everything on to its own children.
    assert (c.out / "outputs/data/raw.csv").read_text() == "raw from a"
    assert sorted(p.name for p in (c.out / "outputs").iterdir()) == [
        "clean.csv", "data", "note.txt",
    ]  # fmt: skip


def test_passed_on_files_later_upstream_then_declared_outputs_win(tmp_path):
    bundle = make_bundle(
        tmp_path / "b.zip",
        {
            "n.py": script(
                """
                import os
                print("x is", open("x.txt").read())
                os.remove("thing")  # the upstream file "thing": this node makes it a folder
                os.makedirs("thing")
                open("thing/inner.txt", "w").write("mine")
                open("y.txt", "w").write("mine")
                """
            )
        },
    )
    first, second, empty = (tmp_path / "up" / n for n in ("first", "second", "empty"))
    for folder, files in (
        (first, {"x.txt": "first", "y.txt": "first", "thing": "a file", "only/first.txt": "1"}),
        (second, {"x.txt": "second"}),
        (empty, {}),
    ):
        folder.mkdir(parents=True)
        for name, text in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
    step = run_step(
        tmp_path,
        "n",
        *["--kind", "python", "--file", "n.py", "--output", "thing", "--output", "y.txt"],
        *["--upstream", str(first), "--upstream", str(second), "--upstream", str(empty)],
        bundle=bundle,
    )
    assert step.code == 0, step.log
    assert "x is second" in step.log  # the later upstream wins, in the node's folder too
    assert f"[ydp] upstream {empty}: no files" in step.log
    assert "[ydp] WARNING: thing: a folder replaces the file of that name" in step.log
    out = step.out / "outputs"
    assert (out / "x.txt").read_text() == "second"
    assert (out / "only/first.txt").read_text() == "1"  # relative paths kept
    assert (out / "y.txt").read_text() == "mine"  # declared outputs win over passed-on files
    assert (out / "thing/inner.txt").read_text() == "mine"


def test_a_step_with_nothing_to_pass_on_still_has_an_outputs_folder(tmp_path):
    """An empty out/outputs still makes an `outputs` artifact, so a child's input resolves."""
    bundle = make_bundle(tmp_path / "b.zip", {"n.py": "print('hi')\n"})
    absent = tmp_path / "never-produced"
    step = run_step(tmp_path, "n", "--kind", "python", "--file", "n.py",
                    "--upstream", str(absent), bundle=bundle)  # fmt: skip
    assert step.code == 0, step.log
    assert f"[ydp] upstream {absent}: nothing there" in step.log
    assert (step.out / "outputs").is_dir() and not list((step.out / "outputs").iterdir())
    assert "passing on" not in step.log


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
