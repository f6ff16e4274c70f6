"""`ydp-compile-hera`: a Hera file compiled on the user's machine imports as Argo YAML."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from apps.pipelines.importers import import_upload
from ydpipelines.hera_compile import main

HERA_FILE = """\
from hera.workflows import DAG, Parameter, Workflow, script


@script()
def say(message: str):
    print(message)


with Workflow(
    generate_name="hello-hera-",
    entrypoint="main",
    arguments=[Parameter(name="greeting", value="hi")],
) as w:
    with DAG(name="main"):
        a = say(name="a", arguments={"message": "{{workflow.parameters.greeting}}"})
        b = say(name="b", arguments={"message": "b"})
        c = say(name="c", arguments={"message": "c"})
        a >> [b, c]

if __name__ == "__main__":
    raise SystemExit("must not run when compiling")
"""


def _write(tmp_path: Path, text: str, name: str = "flow.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_cli_output_imports(tmp_path: Path) -> None:
    source = _write(tmp_path, HERA_FILE)
    out = tmp_path / "flow.yaml"
    # The installed console script's module, run as the user would, in a fresh interpreter.
    done = subprocess.run(
        [sys.executable, "-m", "ydpipelines.hera_compile", str(source), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = import_upload(out.name, out.read_bytes())
    assert result.manifest["metadata"]["generateName"] == "hello-hera-"
    assert {n.id: n.depends_on for n in result.spec.nodes} == {"a": [], "b": ["a"], "c": ["a"]}
    assert [p["name"] for p in result.parameters] == ["greeting"]
    assert all(n.kind == "script" for n in result.spec.nodes)


def test_stdout_and_several_workflows(tmp_path: Path, capsys) -> None:
    two = HERA_FILE.replace(
        "if __name__", "w2 = Workflow(name='second', entrypoint='main')\nif __name__"
    )
    source = _write(tmp_path, two)
    assert main([str(source)]) == 1
    err = capsys.readouterr().err
    assert "2 workflows (hello-hera, second)" in err and "--workflow" in err
    assert main([str(source), "--workflow", "hello-hera"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["kind"] == "Workflow"
    assert main([str(source), "--out-dir", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "hello-hera.yaml",
        "second.yaml",
    ]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("x = 1\n", "no Hera Workflow"),
        ("raise ValueError('broken pipeline')\n", "ValueError: broken pipeline"),
        ("import sys\nsys.exit(3)\n", "exited while being compiled (exit 3)"),
    ],
)
def test_errors_are_one_line(tmp_path: Path, capsys, text: str, words: str) -> None:
    assert main([str(_write(tmp_path, text))]) == 1
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_missing_file(tmp_path: Path, capsys) -> None:
    assert main([str(tmp_path / "nope.py")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_installed_console_script(tmp_path: Path) -> None:
    """The `ydp-compile-hera` entry point of pyproject.toml, run from anywhere."""
    script = Path(sys.executable).parent / "ydp-compile-hera"
    if not script.exists():
        pytest.skip("package not installed (pip install -e .)")
    source = _write(tmp_path, HERA_FILE)
    done = subprocess.run(
        [str(script), str(source)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert import_upload("flow.yaml", done.stdout.encode()).manifest["kind"] == "Workflow"
