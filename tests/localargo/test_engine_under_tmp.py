"""A project cloned under /tmp (issue 10): the host executor gives each step a private /tmp,
which would cover the engine's own interpreter there; the sandbox binds those folders back,
read-only, so steps still run the engine's Python (not whatever else is on PATH)."""

from __future__ import annotations

import site
import subprocess
import sys
from pathlib import Path

import pytest

from tests.localargo.conftest import Client, workflow
from tests.localargo.test_volumes import log_lines
from tests.processes import EngineProcess

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tmp_venv(tmp_path: Path) -> Path:
    """A venv under /tmp that sees this project's packages (a .pth to them)."""
    if not str(tmp_path).startswith("/tmp/"):
        pytest.skip(f"the test folder {tmp_path} is not under /tmp")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site_dir,) = (venv / "lib").glob("python3*/site-packages")
    paths = [*site.getsitepackages(), str(ROOT)]
    (site_dir / "ydp-project.pth").write_text("\n".join(paths) + "\n")
    return venv


def test_steps_run_the_engines_python_under_tmp(tmp_venv: Path, tmp_path: Path, swagger) -> None:
    engine = EngineProcess(tmp_path / "data", python=str(tmp_venv / "bin" / "python")).start()
    try:
        api = Client(engine.url, swagger)
        step = {
            "name": "main",
            "script": {
                "image": "python:3.11",
                "command": ["python3"],
                "source": "import sys, os\nprint(sys.prefix)\nprint(os.path.isdir(sys.prefix))",
            },
        }
        name = api.create(workflow("main", [step]))["metadata"]["name"]
        wf = api.wait(name, timeout=60)
        assert wf["status"]["phase"] == "Succeeded", wf["status"]
        lines = [line for line in log_lines(api, name) if not line.startswith("sandbox:")]
        assert lines == [str(tmp_venv), "True"], lines
    finally:
        engine.stop()
