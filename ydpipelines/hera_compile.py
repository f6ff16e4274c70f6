"""`ydp-compile-hera FILE.py [-o OUT.yaml | --out-dir DIR] [--workflow NAME]`

Compiles a Hera pipeline on the user's own machine into Argo YAML for upload: the server never
runs uploaded Python. The file is run as a module (its `if __name__ == "__main__":` block is
not: that is where Hera scripts usually submit), and every Hera Workflow, WorkflowTemplate or
CronWorkflow object it leaves at module level is written out with `to_yaml()`.

One workflow goes to stdout or `-o`; several need `--workflow NAME` or `--out-dir DIR` (one
file per workflow), since an upload holds one manifest.
"""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path
from typing import Any

RUN_NAME = "__hera_compile__"


def collect_workflows(path: Path) -> list[Any]:
    """Run `path` as a module and return the Hera workflow objects at its top level."""
    from hera.workflows import Workflow

    sys.path.insert(0, str(path.resolve().parent))  # the file's own imports of its neighbours
    try:
        namespace = runpy.run_path(str(path), run_name=RUN_NAME)
    finally:
        sys.path.pop(0)
    found: list[Any] = []
    for value in namespace.values():
        if isinstance(value, Workflow) and all(value is not w for w in found):
            found.append(value)
    return found


def workflow_name(workflow: Any) -> str:
    return str(workflow.name or (workflow.generate_name or "").rstrip("-") or "workflow")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ydp-compile-hera",
        description="Compile a Hera Python file to Argo YAML for upload to ydpipelines.",
    )
    parser.add_argument("file", type=Path, help="a Python file that builds Hera workflows")
    parser.add_argument("-o", "--output", type=Path, help="write the YAML here (default stdout)")
    parser.add_argument("--out-dir", type=Path, help="write one NAME.yaml per workflow here")
    parser.add_argument("--workflow", help="the name of the workflow to write, when several")
    args = parser.parse_args(argv)

    if not args.file.is_file():
        return _fail(f"{args.file}: no such file")
    try:
        workflows = collect_workflows(args.file)
    except SystemExit as exc:
        return _fail(f"{args.file}: the file exited while being compiled (exit {exc.code})")
    except Exception as exc:  # the user's code: report it in one line, whatever it raised
        return _fail(f"{args.file}: {type(exc).__name__}: {exc}")
    if args.workflow:
        workflows = [w for w in workflows if workflow_name(w) == args.workflow]
        if not workflows:
            return _fail(f"{args.file}: no workflow named {args.workflow!r}")
    if not workflows:
        return _fail(
            f"{args.file}: no Hera Workflow, WorkflowTemplate or CronWorkflow at module level "
            "(assign it to a variable, e.g. `with Workflow(...) as w:`)"
        )

    if args.out_dir:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        for workflow in workflows:
            target = args.out_dir / f"{workflow_name(workflow)}.yaml"
            target.write_text(_to_yaml(workflow))
            print(target)
        return 0
    if len(workflows) > 1:
        names = ", ".join(workflow_name(w) for w in workflows)
        return _fail(
            f"{args.file}: {len(workflows)} workflows ({names}); choose one with --workflow NAME "
            "or write them all with --out-dir DIR"
        )
    text = _to_yaml(workflows[0])
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _to_yaml(workflow: Any) -> str:
    return workflow.to_yaml()


def _fail(message: str) -> int:
    print(f"ydp-compile-hera: {' '.join(message.split())}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
