"""How long a big Elyra pipeline takes to import, render (Hera) and lay out (SVG).

    .venv/bin/python bench/render.py [--nodes 100 1000] [--repeat 3]

Generates a layered DAG (10 nodes a layer, each node depending on 1 to 3 nodes of the layer
before, one in eight declaring outputs), writes it as an Elyra `.pipeline` file and times:
- import: the importer (apps.pipelines.importers) parsing that file into a PipelineSpec, when the
  importer is installed; otherwise building the spec objects directly (said in the output);
- render: apps.pipelines.rendering.render_elyra_manifest (Hera) of that spec;
- layout: apps.pipelines.graph.graph_from_manifest + render_svg of the manifest.
Goal: 100 nodes import + render under 0.5 s.

Elyra hands every ancestor's outputs to every descendant. Each step passes on what it received,
so a task takes only its direct parents' `outputs` (docs/steps.md) and the manifest grows with
the nodes and edges: 1,000 nodes gave 12.4 MiB and ~49,000 artifacts when every task took every
ancestor's outputs. A real cluster still refuses more than 199 nodes (200 templates at most).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ydpipelines.settings")

import django  # noqa: E402

django.setup()

from apps.pipelines import graph as graphs  # noqa: E402
from apps.pipelines.rendering import argo_limit_problems, render_elyra_manifest  # noqa: E402
from apps.pipelines.spec import Node, Parameter, PipelineSpec  # noqa: E402

KINDS = [("notebook", "ipynb"), ("python", "py"), ("r", "r")]
LAYER_WIDTH = 10


def generate_spec(count: int, *, seed: int = 7) -> PipelineSpec:
    """A layered DAG of `count` nodes, the same for the same seed."""
    rng = random.Random(seed)
    nodes: list[Node] = []
    previous: list[str] = []
    while len(nodes) < count:
        layer: list[str] = []
        for _ in range(min(LAYER_WIDTH, count - len(nodes))):
            i = len(nodes)
            kind, ext = KINDS[i % len(KINDS)]
            node_id = str(uuid.UUID(int=rng.getrandbits(128)))
            deps = rng.sample(previous, k=min(len(previous), rng.randint(1, 3))) if previous else []
            nodes.append(
                Node(
                    id=node_id,
                    label=f"Step {i} {kind}",
                    kind=kind,
                    filename=f"steps/step_{i}.{ext}",
                    runtime_image="python:3.11-slim" if kind != "r" else "r-base:4.3.1",
                    depends_on=sorted(deps),
                    cpu=1,
                    memory_gb=2,
                    env={"STEP": str(i)},
                    outputs=[f"out_{i}.csv"] if i % 8 == 0 else [],
                    parameters=["alpha"],
                )
            )
            layer.append(node_id)
        previous = layer
    return PipelineSpec(
        name=f"bench {count}",
        nodes=nodes,
        parameters=[Parameter(name="alpha", type="Float", default=0.1)],
    )


def to_elyra(spec: PipelineSpec) -> dict:
    """The spec as an Elyra v8 .pipeline document (what a user would upload)."""
    op = {
        "notebook": "execute-notebook-node",
        "python": "execute-python-node",
        "r": "execute-r-node",
    }
    nodes = []
    for n in spec.nodes:
        nodes.append(
            {
                "id": n.id,
                "type": "execution_node",
                "op": op[n.kind],
                "app_data": {
                    "label": n.label,
                    "component_parameters": {
                        "filename": n.filename,
                        "runtime_image": n.runtime_image,
                        "cpu": n.cpu,
                        "memory": n.memory_gb,
                        "env_vars": [{"env_var": k, "value": v} for k, v in n.env.items()],
                        "outputs": n.outputs,
                        "dependencies": [],
                        "include_subdirectories": False,
                        "pipeline_parameters": n.parameters,
                    },
                    "ui_data": {"label": n.label},
                },
                "inputs": [
                    {
                        "id": "inPort",
                        "links": [
                            {"id": f"{d}-{n.id}", "node_id_ref": d, "port_id_ref": "outPort"}
                            for d in n.depends_on
                        ],
                    }
                ],
                "outputs": [{"id": "outPort"}],
            }
        )
    return {
        "doc_type": "pipeline",
        "version": "3.0",
        "json_schema": "http://api.dataplatform.ibm.com/schemas/common-pipeline/"
        "pipeline-flow/pipeline-flow-v3-schema.json",
        "id": str(uuid.uuid4()),
        "primary_pipeline": "primary",
        "pipelines": [
            {
                "id": "primary",
                "nodes": nodes,
                "app_data": {
                    "name": spec.name,
                    "runtime_type": "KUBEFLOW_PIPELINES",
                    "version": 8,
                    "properties": {
                        "name": spec.name,
                        "pipeline_parameters": [
                            {
                                "name": p.name,
                                "value": {"type": p.type, "value": p.default},
                                "default_value": {"type": p.type, "value": p.default},
                            }
                            for p in spec.parameters
                        ],
                    },
                },
                "runtime_ref": "",
            }
        ],
        "schemas": [],
    }


def _importer():
    """The importer's entry point, when it is installed: a callable(bytes) -> PipelineSpec."""
    try:
        from apps.pipelines.importers import import_upload
    except ImportError:
        return None
    return lambda data: import_upload("bench.pipeline", data).spec


def artifact_count(manifest: dict) -> int:
    """Artifacts declared in the manifest: templates' inputs and outputs, tasks' arguments."""
    count = 0
    for template in manifest["spec"]["templates"]:
        for part in ("inputs", "outputs"):
            count += len((template.get(part) or {}).get("artifacts") or [])
        for task in (template.get("dag") or {}).get("tasks") or []:
            count += len((task.get("arguments") or {}).get("artifacts") or [])
    return count


def timed(fn, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
    parser.add_argument(
        "--smoke", action="store_true", help="CI's check: 50 nodes once, and any error fails"
    )
    args = parser.parse_args()
    if args.smoke:
        args.nodes, args.repeat = [50], 1
    importer = _importer()
    print(f"{'nodes':>6} {'import':>9} {'render':>9} {'total':>9} {'layout':>9}  notes")
    for count in args.nodes:
        spec = generate_spec(count)
        notes = []
        if importer is not None:
            document = json.dumps(to_elyra(spec)).encode()
            try:
                t_import, imported = timed(lambda d=document: importer(d), args.repeat)
                if isinstance(imported, PipelineSpec):
                    spec = imported
                notes.append("import: the Elyra importer")
            except Exception as exc:  # the bench reports, it does not stop (but CI's smoke does)
                if args.smoke:
                    raise
                t_import = timed(lambda c=count: generate_spec(c), args.repeat)[0]
                notes.append(f"import: spec built directly ({type(exc).__name__}: {exc})"[:90])
        else:
            t_import = timed(lambda c=count: generate_spec(c), args.repeat)[0]
            notes.append("import: spec built directly (no importer installed)")
        version = uuid.UUID(int=count)
        t_render, manifest = timed(
            lambda s=spec, v=version: render_elyra_manifest(s, version_id=v), args.repeat
        )
        spec_dict = spec.to_dict()
        t_layout, svg = timed(
            lambda m=manifest, s=spec_dict: graphs.render_svg(graphs.graph_from_manifest(m, s)),
            args.repeat,
        )
        size = len(json.dumps(manifest, separators=(",", ":")))
        notes.append(
            f"manifest {size / 2**20:.2f} MiB ({artifact_count(manifest)} artifacts), "
            f"svg {len(svg) / 2**20:.1f} MiB"
        )
        problems = argo_limit_problems(manifest)
        if problems:
            notes.append(f"a real cluster would refuse it ({len(problems)} limits, see below)")
        total = t_import + t_render
        goal = " (goal < 0.5 s: met)" if count == 100 and total < 0.5 else ""
        if count == 100 and total >= 0.5:
            goal = " (goal < 0.5 s: MISSED)"
        print(
            f"{count:>6} {t_import:>8.3f}s {t_render:>8.3f}s {total:>8.3f}s {t_layout:>8.3f}s"
            f"  {'; '.join(notes)}{goal}"
        )
        for problem in problems:
            print(f"{'':>7}- {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
