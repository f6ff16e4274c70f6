"""A world of rows whose every field a step or an upload can fill holds a script payload.

Each payload, if a browser ever ran it on the app's origin, would set `window.__pwned` and
request /canary/ (the browser test intercepts that path). Rows are built with the ORM: no engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.files.base import ContentFile

from apps.experiments.models import Experiment
from apps.pipelines.models import PipelineVersion
from apps.recurring.models import RecurringRun
from apps.runs.constants import ArtifactKind, RunState, StepPhase
from apps.runs.models import Artifact, Metric, Run, Step
from tests.experiments.builders import make_experiment, make_run, make_step, make_version
from tests.experiments.builders import manifest as dag_manifest

JS = "window.__pwned=1;fetch('/canary/')"
IMG = f'<img src=x onerror="{JS}">'
SCRIPT = f"<script>{JS}</script>"
SVG_BREAK = f'"><svg onload="{JS}">'
JS_URL = f"javascript:{JS}"


def hostile(tag: str) -> str:
    """A name-sized string (under 200 characters) with every payload, unique per tag."""
    return f"{tag}{SVG_BREAK}{IMG}{SCRIPT}"


SVG_FILE = (
    f'<svg xmlns="http://www.w3.org/2000/svg" onload="{JS}" width="10" height="10">'
    f"<script>{JS}</script><rect width='10' height='10'/></svg>"
).encode()
HTML_FILE = f'<html><body><h1>report</h1>{SCRIPT}{IMG}<a href="{JS_URL}">x</a></body></html>'
MARKDOWN_FILE = (
    "# Notes\n\n"
    f"{IMG}\n\n{SCRIPT}\n\n"
    f"[click me]({JS_URL})\n\n"
    f'<a href="{JS_URL}">raw link</a>\n\n'
    "![remote](http://127.0.0.1:9/canary/remote.png)\n\n"
    "![remote-same-origin](/canary/relative.png)\n"
)
# SGR colour codes around a payload: the log must show the text, coloured, never run it.
LOG = (
    "\x1b[32mstarting\x1b[0m\n"
    f"\x1b[1;31m{hostile('log')}\x1b[0m\n"
    f"plain {IMG}\n"
    "\x1b]0;title\x07\x1b[2Kdone\n"
)


@dataclass
class World:
    version: PipelineVersion
    experiment: Experiment
    runs: list[Run]
    step: Step
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    recurring: RecurringRun | None = None


def _artifact(run: Run, step: Step, name: str, kind: str, content: bytes = b"", media: str = "",
              data: dict[str, Any] | None = None) -> Artifact:  # fmt: skip
    artifact = Artifact(run=run, step=step, name=name, kind=kind, media_type=media, data=data or {})
    if content:
        artifact.file.save(f"{step.node_id}/{name}", ContentFile(content), save=False)
        artifact.size = len(content)
    artifact.save()
    return artifact


def _manifest() -> dict[str, Any]:
    body = dag_manifest()
    spec = body["spec"]
    spec["arguments"]["parameters"].append({"name": "note", "value": hostile("arg")})
    for template in spec["templates"][1:]:
        template["container"]["env"].append({"name": "NOTE", "value": hostile("env")})
        template["container"]["args"].append(hostile("cmd"))
    return body


def build() -> World:
    parameters = [
        {"name": "label", "type": "String", "default": hostile("dflt"), "description": IMG},
        {"name": hostile("pname"), "type": "String", "default": "x", "description": SCRIPT},
    ]
    version = make_version(
        hostile("pipe"), hostile("ver"), parameters=parameters, manifest=_manifest(),
        description=hostile("verdesc"),
    )  # fmt: skip
    version.pipeline.description = hostile("pipedesc")
    version.pipeline.save()
    experiment = make_experiment(hostile("exp"), description=hostile("expdesc"))
    runs = []
    for n in (1, 2):
        runs.append(
            make_run(
                version, experiment, state=RunState.FAILED,
                name=hostile(f"run{n}"), description=hostile("rundesc"), message=hostile("runmsg"),
                parameters={"label": hostile(f"pval{n}"), hostile("pkey"): IMG},
            )
        )  # fmt: skip
    run = runs[0]
    steps = {}
    for name in ("prepare", "train", "evaluate"):
        steps[name] = make_step(
            run, name, StepPhase.FAILED if name == "evaluate" else StepPhase.SUCCEEDED,
            message=hostile("stepmsg"), log=LOG, log_fetched=True, artifacts_fetched=True,
            template_name=f"{name}-t",
        )  # fmt: skip
    # A step the graph does not know (Argo's node names are not the app's to trust either).
    make_step(run, hostile("node")[:200], StepPhase.SUCCEEDED, node_type="Pod")
    step = steps["evaluate"]
    world = World(version=version, experiment=experiment, runs=runs, step=step)
    for r in runs:
        holder = step if r is run else make_step(r, "evaluate", StepPhase.SUCCEEDED)
        Metric.objects.create(run=r, step=holder, name=hostile("metric"), value=0.5)
        world.artifacts[f"matrix{r is run}"] = _artifact(
            r, holder, hostile("cm"), ArtifactKind.CONFUSION_MATRIX,
            data={"labels": [hostile("lab1"), hostile("lab2")],
                  "matrix": [[3, 1], [2, hostile("cell")]]},
        )  # fmt: skip
        world.artifacts[f"roc{r is run}"] = _artifact(
            r, holder, hostile("roc"), ArtifactKind.ROC,
            data={"points": [[0, 0, ""], [0.3, 0.7, hostile("thr")], [1, 1, IMG]]},
        )  # fmt: skip
    a = world.artifacts
    a["html"] = _artifact(
        run, step, hostile("html"), ArtifactKind.HTML, HTML_FILE.encode(), "text/html"
    )
    a["notebook"] = _artifact(
        run, step, "notebook-html", ArtifactKind.HTML, HTML_FILE.encode(), "text/html"
    )
    a["svg"] = _artifact(run, step, "plot.svg", ArtifactKind.IMAGE, SVG_FILE, "image/svg+xml")
    a["markdown"] = _artifact(
        run, step, hostile("md"), ArtifactKind.MARKDOWN, MARKDOWN_FILE.encode(), "text/markdown"
    )
    a["table"] = _artifact(
        run, step, hostile("tab"), ArtifactKind.TABLE,
        data={"header": [hostile("th"), "b"], "rows": [[hostile("td"), IMG]]},
    )  # fmt: skip
    a["csv"] = _artifact(
        run, step, "scores.csv", ArtifactKind.TABLE,
        f"name,{IMG}\n{SCRIPT},1\n".encode(), "text/csv",
    )  # fmt: skip
    a["file"] = _artifact(
        run,
        step,
        hostile("file"),
        ArtifactKind.FILE,
        HTML_FILE.encode(),
        "application/octet-stream",
    )
    world.recurring = RecurringRun.objects.create(
        name=hostile("rec"), description=hostile("recdesc"), experiment=experiment,
        pipeline=version.pipeline, pipeline_version=version, trigger_type="cron", cron="0 * * * *",
        parameters={"label": IMG},
    )  # fmt: skip
    return world
