"""Run ydpipelines/steprunner.py as a real subprocess, as a step does, on bundles built in tmp."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "ydpipelines" / "steprunner.py"
EXAMPLES = ROOT / "examples"
EXTENSIONS = {".ipynb": "notebook", ".py": "python", ".r": "r", ".R": "r"}


@dataclass
class Step:
    code: int
    log: str
    out: Path
    work: Path

    def json(self, name: str) -> dict:
        return json.loads((self.out / name).read_text())


def make_bundle(path: Path, files: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        for name, content in files.items():
            bundle.writestr(name, content)
    return path


def bundle_folder(folder: Path, path: Path) -> Path:
    """A zip of a pipeline folder, as a user uploads it."""
    with zipfile.ZipFile(path, "w") as bundle:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                bundle.write(file, file.relative_to(folder).as_posix())
    return path


def run_step(
    tmp: Path,
    name: str,
    *args: str,
    bundle: Path,
    env: dict[str, str] | None = None,
    python: str = sys.executable,
    timeout: float = 120,
) -> Step:
    """Run the runner with its own workdir and out dir (tmp/<name>/work, tmp/<name>/out)."""
    work, out = tmp / name / "work", tmp / name / "out"
    cmd = [python, str(RUNNER), *args, "--bundle", str(bundle)]
    cmd += ["--workdir", str(work), "--out-dir", str(out)]
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        cmd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Step(proc.returncode, proc.stdout, out, work)


def pipeline_nodes(pipeline_file: Path) -> tuple[list[dict], dict[str, str]]:
    """The nodes of an Elyra v8 file in a runnable order, each with its runner args, and the
    pipeline parameters' defaults: what the renderer derives, done by hand here."""
    flow = json.loads(pipeline_file.read_text())
    primary = flow["pipelines"][0]
    props = primary["app_data"]["properties"]
    defaults = {
        p["name"]: str(p["default_value"]["value"]) for p in props.get("pipeline_parameters", [])
    }
    nodes = {}
    for node in primary["nodes"]:
        params = node["app_data"]["component_parameters"]
        parents = [link["node_id_ref"] for port in node["inputs"] for link in port.get("links", [])]
        nodes[node["id"]] = {
            "params": params,
            "parents": parents,
            "label": node["app_data"]["label"],
        }
    order: list[str] = []
    while len(order) < len(nodes):
        for node_id, node in nodes.items():
            if node_id not in order and all(p in order for p in node["parents"]):
                order.append(node_id)
    # A node carries outputs when it or an ancestor declares some (docs/steps.md): only those
    # parents hand their `outputs` to a child.
    carries: dict[str, bool] = {}
    for node_id in order:
        own = bool(nodes[node_id]["params"].get("outputs"))
        carries[node_id] = own or any(carries[p] for p in nodes[node_id]["parents"])
    result = []
    for node_id in order:
        node, params = nodes[node_id], nodes[node_id]["params"]
        # Direct parents that carry outputs, in the file's node order (the renderer's order).
        parents = [p for p in nodes if p in node["parents"] and carries[p]]
        args = ["--kind", EXTENSIONS[Path(params["filename"]).suffix]]
        args += ["--file", params["filename"]]
        for dep in params.get("dependencies", []):
            args += ["--dependency", dep]
        if params.get("include_subdirectories"):
            args.append("--include-subdirectories")
        for output in params.get("outputs", []):
            args += ["--output", output]
        env = {e["env_var"]: e["value"] for e in params.get("env_vars", [])}
        result.append(
            {
                "id": node_id,
                "name": Path(params["filename"]).stem,
                "label": node["label"],
                "args": args,
                "env": env,
                "parameters": params.get("pipeline_parameters", []),
                "parents": [Path(nodes[p]["params"]["filename"]).stem for p in parents],
                "parent_labels": [nodes[p]["label"] for p in parents],
            }
        )
    return result, defaults
