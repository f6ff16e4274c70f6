"""Regenerate the example pipelines' generated files: the demo's dataset, the notebooks and the
Elyra `.pipeline` files. Deterministic: running it twice gives the same bytes.

    .venv/bin/python examples/make_examples.py

The Python scripts (demo/prepare_data.py, demo/churn_model.py, failing/report.py) are written by
hand; this script only writes what is easier to keep as code than as JSON.
"""

from __future__ import annotations

import csv
import json
import math
import random
import uuid
from pathlib import Path

import nbformat

from apps.pipelines.constants import DEFAULT_RUNTIME_IMAGE

HERE = Path(__file__).resolve().parent
NAMESPACE = uuid.UUID("6f1d2c9e-2b8a-4a51-9c3e-5d7f0a1b2c3d")
IMAGE = DEFAULT_RUNTIME_IMAGE
OPS = {".ipynb": "execute-notebook-node", ".py": "execute-python-node", ".r": "execute-r-node"}
DESCRIPTIONS = {".ipynb": "Run notebook file", ".py": "Run Python script", ".r": "Run R script"}


# --------------------------------------------------------------------------------------------
# The dataset: a synthetic customer-churn table
# --------------------------------------------------------------------------------------------


def write_customers(path: Path, n: int = 600) -> None:
    """Customers of a subscription service and whether they left. Churn is more likely with a
    short tenure, high charges, many support calls, a monthly contract and no autopay."""
    rng = random.Random(2024)
    rows = []
    for i in range(n):
        contract = rng.choices(["month-to-month", "one-year", "two-year"], [0.55, 0.25, 0.2])[0]
        years = {"month-to-month": 0, "one-year": 1, "two-year": 2}[contract]
        tenure = max(1, min(72, int(rng.gauss(14 + 16 * years, 12))))
        charges = round(min(120.0, max(18.0, rng.gauss(68, 22))), 2)
        calls = min(9, int(rng.expovariate(0.55)))
        autopay = rng.random() < 0.35 + 0.15 * years
        logit = (
            0.4 - 0.05 * tenure + 0.03 * (charges - 68) + 0.55 * calls - 1.1 * years - 0.7 * autopay
        )
        churned = rng.random() < 1 / (1 + math.exp(-logit))
        rows.append(
            {
                "customer_id": f"C{10001 + i}",
                "tenure_months": tenure,
                # About 2% of the charges were never recorded: prepare_data.py fills them in.
                "monthly_charges": "" if rng.random() < 0.02 else f"{charges:.2f}",
                "support_calls": calls,
                "contract": contract,
                "autopay": "yes" if autopay else "no",
                "churned": int(churned),
            }
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


# --------------------------------------------------------------------------------------------
# Notebooks
# --------------------------------------------------------------------------------------------


def write_notebook(path: Path, cells: list[tuple[str, str]]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python", "version": "3.11"},
    }
    for i, (kind, source) in enumerate(cells):
        source = source.strip("\n")
        cell = (
            nbformat.v4.new_markdown_cell(source)
            if kind == "md"
            else nbformat.v4.new_code_cell(source)
        )
        cell["id"] = f"{path.stem[:20]}-{i}".replace("_", "-")
        nb.cells.append(cell)
    nbformat.validate(nb)
    path.write_text(nbformat.writes(nb) + "\n")


PROFILE = [
    (
        "md",
        """
# Profile the customer table

A quick look at the prepared data before any model sees it: the distribution of every column,
split by whether the customer churned. The report is one self-contained HTML page
(`data_profile.html`); the step publishes it as a **web-app** visualization so that it shows in the
run page, next to a short markdown summary.
""",
    ),
    (
        "code",
        """
import csv
import html
import json
import statistics

rows = []
for split in ("train", "test"):
    with open(f"{split}.csv", newline="") as f:
        rows += [dict(r, split=split) for r in csv.DictReader(f)]
print(f"{len(rows)} customers, {sum(int(r['churned']) for r in rows)} churned")
""",
    ),
    (
        "code",
        """
NUMERIC = {
    "tenure_months": "Tenure (months)",
    "monthly_charges": "Monthly charges",
    "support_calls": "Support calls",
}
CATEGORICAL = {
    "contract_years": ("Contract", ["month-to-month", "one-year", "two-year"]),
    "autopay": ("Autopay", ["no", "yes"]),
}
COLORS = {"0": "#4e79a7", "1": "#e15759"}


def bars_svg(values, churned, labels=None, bins=12, width=360, height=120):
    \"\"\"Stacked bars of customers who stayed (blue) and churned (red), per value or bin.\"\"\"
    low, high = min(values), max(values)
    distinct = sorted(set(values))
    if labels or len(distinct) <= bins:
        index = {v: i for i, v in enumerate(distinct)}
        counts = [[0, 0] for _ in distinct]
        for v, c in zip(values, churned, strict=True):
            counts[index[v]][c] += 1
    else:
        step = (high - low) / bins
        counts = [[0, 0] for _ in range(bins)]
        for v, c in zip(values, churned, strict=True):
            counts[min(int((v - low) / step), bins - 1)][c] += 1
    top = max(a + b for a, b in counts) or 1
    bar = width / len(counts)
    parts = []
    for i, (stay, churn) in enumerate(counts):
        x = i * bar + 1
        h_stay, h_churn = stay / top * (height - 20), churn / top * (height - 20)
        parts.append(
            f'<rect x="{x:.1f}" y="{height - 16 - h_stay:.1f}" width="{bar - 2:.1f}" '
            f'height="{h_stay:.1f}" fill="{COLORS["0"]}"><title>{stay} stayed</title></rect>'
            f'<rect x="{x:.1f}" y="{height - 16 - h_stay - h_churn:.1f}" width="{bar - 2:.1f}" '
            f'height="{h_churn:.1f}" fill="{COLORS["1"]}"><title>{churn} churned</title></rect>'
        )
        if labels:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 2}" class="axis" '
                f'text-anchor="middle">{html.escape(labels[int(distinct[i])])}</text>'
            )
    if not labels:
        parts.append(f'<text x="0" y="{height - 2}" class="axis">{low:g}</text>')
        parts.append(
            f'<text x="{width}" y="{height - 2}" class="axis" text-anchor="end">{high:g}</text>'
        )
    return f'<svg width="{width}" height="{height}" role="img">{"".join(parts)}</svg>'


def table(header, rows):
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


churned = [int(r["churned"]) for r in rows]
sections = []
summary_rows = []
for column, title in NUMERIC.items():
    values = [float(r[column]) for r in rows]
    stats = {
        "mean": statistics.fmean(values),
        "std": statistics.pstdev(values),
        "min": min(values),
        "median": statistics.median(values),
        "max": max(values),
    }
    median = stats["median"]
    low = [c for v, c in zip(values, churned, strict=True) if v <= median]
    high = [c for v, c in zip(values, churned, strict=True) if v > median]
    churn_text = f"{statistics.fmean(low):.0%} up to {median:g}, {statistics.fmean(high):.0%} above"
    sections.append(
        f"<section><h2>{title} <code>{column}</code></h2>"
        + table(stats, [[f"{v:,.4g}" for v in stats.values()]])
        + bars_svg(values, churned)
        + f"<p>Churn rate: {churn_text}.</p></section>"
    )
    summary_rows.append(f"| {title} | {churn_text} |")

for column, (title, labels) in CATEGORICAL.items():
    values = [int(r[column]) for r in rows]
    lines, rates = [], []
    for code, label in enumerate(labels):
        group = [c for v, c in zip(values, churned, strict=True) if v == code]
        lines.append([label, len(group), f"{len(group) / len(values):.0%}"])
        rates.append(f"{label} {statistics.fmean(group):.0%}")
        lines[-1].append(f"{statistics.fmean(group):.0%}")
    sections.append(
        f"<section><h2>{title} <code>{column}</code></h2>"
        + table(["value", "customers", "share", "churn rate"], lines)
        + bars_svg(values, churned, labels=labels)
        + "</section>"
    )
    summary_rows.append(f"| {title} | {', '.join(rates)} |")
""",
    ),
    (
        "code",
        """
churn_rate = statistics.fmean(churned)
n_train = sum(r["split"] == "train" for r in rows)
stayed_color, churned_color, body = COLORS["0"], COLORS["1"], "".join(sections)
report = f\"\"\"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Customer data profile</title>
<style>
  body {{ font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1f2328; }}
  h1 {{ font-size: 22px; margin: 0 0 4px; }}
  .lead {{ color: #59636e; margin: 0 0 20px; }}
  .grid {{ display: grid; gap: 16px;
           grid-template-columns: repeat(auto-fill, minmax(390px, 1fr)); }}
  section {{ border: 1px solid #d1d9e0; border-radius: 8px; padding: 12px 14px; }}
  h2 {{ font-size: 15px; margin: 0 0 8px; }} h2 code {{ color: #59636e; font-weight: normal; }}
  table {{ border-collapse: collapse; margin-bottom: 8px; }}
  th, td {{ padding: 2px 10px 2px 0; text-align: right; }}
  th {{ color: #59636e; font-weight: 500; }}
  .axis {{ font-size: 10px; fill: #59636e; }}
  .key span {{ display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 12px; }}
</style></head><body>
<h1>Customer data profile</h1>
<p class="lead">{len(rows)} customers ({n_train} train, {len(rows) - n_train} test),
{churn_rate:.1%} churned.
<span class="key"><span style="background:{stayed_color}"></span>stayed
<span style="background:{churned_color}"></span>churned</span></p>
<div class="grid">{body}</div>
</body></html>\"\"\"
with open("data_profile.html", "w") as f:
    f.write(report)
print(f"wrote data_profile.html ({len(report):,} bytes)")
""",
    ),
    (
        "code",
        """
summary = (
    f"## Data profile\\n\\n{len(rows)} customers, {churn_rate:.1%} churned. "
    "Churn rate by column:\\n\\n| column | churn rate |\\n|---|---|\\n" + "\\n".join(summary_rows)
)

# "source" names the local file: the step runner inlines it, so the run page needs only the JSON.
metadata = {
    "outputs": [
        {"type": "web-app", "source": "data_profile.html"},
        {"type": "markdown", "storage": "inline", "source": summary},
    ]
}
with open("mlpipeline-ui-metadata.json", "w") as f:
    json.dump(metadata, f)
print(summary)
""",
    ),
]

TRAIN = [
    (
        "md",
        """
# Train a churn model

A decision tree that predicts whether a customer will leave. Two pipeline parameters shape it;
Elyra passes pipeline parameters to a notebook as environment variables:

- `MAX_DEPTH`: how many questions the tree may ask in a row (default 4);
- `MIN_SAMPLES_LEAF`: the fewest customers a leaf may describe (default 10).

The tree itself lives in `churn_model.py`, a dependency of this node, shared with the evaluation.
""",
    ),
    (
        "code",
        """
import json
import os

from churn_model import count_leaves, fit, predict_proba, read_rows, rules, save

max_depth = int(os.environ.get("MAX_DEPTH", "4"))
min_samples_leaf = int(os.environ.get("MIN_SAMPLES_LEAF", "10"))
print(f"MAX_DEPTH={max_depth} MIN_SAMPLES_LEAF={min_samples_leaf}")
""",
    ),
    (
        "code",
        """
x, y = read_rows("train.csv")
model = fit(x, y, max_depth=max_depth, min_samples_leaf=min_samples_leaf)
save(model, "model.json")

predicted = [int(p >= 0.5) for p in predict_proba(model, x)]
train_accuracy = sum(int(a == b) for a, b in zip(predicted, y, strict=True)) / len(y)
leaves = count_leaves(model["tree"])
print(f"trained on {len(y)} customers: {leaves} leaves, training accuracy {train_accuracy:.1%}")
""",
    ),
    (
        "md",
        """
A learning curve: trees of depth 1 to `MAX_DEPTH`, each scored by its log loss on the training
and the test customers. `log_metric` (provided in every pipeline step) records one point per
depth; the run's Output tab draws each metric's history, and its last point is its value.
""",
    ),
    (
        "code",
        """
import math

try:
    from ydp_metrics import log_metric
except ImportError:  # run by hand, outside a pipeline

    def log_metric(name, value, step=None):
        print(f"{name}[{step}] = {value:.4f}")


def log_loss(model, x, y):
    eps = 1e-6
    probabilities = [min(max(p, eps), 1 - eps) for p in predict_proba(model, x)]
    return -sum(
        math.log(p) if label else math.log(1 - p) for p, label in zip(probabilities, y, strict=True)
    ) / len(y)


x_test, y_test = read_rows("test.csv")
for depth in range(1, max_depth + 1):
    tree = fit(x, y, max_depth=depth, min_samples_leaf=min_samples_leaf)
    log_metric("train-loss", log_loss(tree, x, y), step=depth)
    log_metric("test-loss", log_loss(tree, x_test, y_test), step=depth)
    print(f"depth {depth}: train loss {log_loss(tree, x, y):.4f}")
""",
    ),
    (
        "code",
        """
importance = sorted(model["importances"].items(), key=lambda kv: -kv[1])
text = "\\n".join(
    [
        f"## Decision tree (max depth {max_depth}, {leaves} leaves)",
        "",
        *rules(model["tree"]),
        "",
        "**What the tree looks at most:** "
        + ", ".join(f"`{name}` {share:.0%}" for name, share in importance if share > 0),
    ]
)
print(text)

with open("mlpipeline-ui-metadata.json", "w") as f:
    json.dump({"outputs": [{"type": "markdown", "storage": "inline", "source": text}]}, f)
with open("mlpipeline-metrics.json", "w") as f:
    json.dump(
        {
            "metrics": [
                {"name": "train-accuracy", "numberValue": train_accuracy, "format": "PERCENTAGE"},
                {"name": "tree-leaves", "numberValue": leaves, "format": "RAW"},
            ]
        },
        f,
    )
""",
    ),
]

EVALUATE = [
    (
        "md",
        """
# Evaluate the model on customers it has never seen

Scores the tree on the test set and publishes, in Kubeflow's formats:

- **metrics** (`mlpipeline-metrics.json`): accuracy, precision, recall, F1 and ROC AUC;
- **visualizations** (`mlpipeline-ui-metadata.json`): a confusion matrix and an ROC curve (each
  read from a CSV file the notebook writes), and a table of what the tree relies on.
""",
    ),
    (
        "code",
        """
import csv
import itertools
import json

from churn_model import LABELS, load, predict_proba, read_rows

model = load("model.json")
x, y = read_rows("test.csv")
scores = predict_proba(model, x)
predicted = [int(s >= 0.5) for s in scores]
print(f"scored {len(y)} test customers with a tree of depth {model['max_depth']}")
""",
    ),
    (
        "code",
        """
tp = sum(1 for p, t in zip(predicted, y, strict=True) if p == 1 and t == 1)
fp = sum(1 for p, t in zip(predicted, y, strict=True) if p == 1 and t == 0)
fn = sum(1 for p, t in zip(predicted, y, strict=True) if p == 0 and t == 1)
tn = sum(1 for p, t in zip(predicted, y, strict=True) if p == 0 and t == 0)
accuracy = (tp + tn) / len(y)
precision = tp / (tp + fp) if tp + fp else 0.0
recall = tp / (tp + fn) if tp + fn else 0.0
f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0

# ROC: one point per distinct score, from the strictest threshold to the loosest.
positives, negatives = sum(y), len(y) - sum(y)
roc = [(0.0, 0.0, 1.0)]
for threshold in sorted(set(scores), reverse=True):
    tpr = sum(1 for s, t in zip(scores, y, strict=True) if s >= threshold and t == 1) / positives
    fpr = sum(1 for s, t in zip(scores, y, strict=True) if s >= threshold and t == 0) / negatives
    roc.append((fpr, tpr, threshold))
if roc[-1][:2] != (1.0, 1.0):
    roc.append((1.0, 1.0, 0.0))
auc = sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in itertools.pairwise(roc))

for name, value in [
    ("accuracy", accuracy),
    ("precision", precision),
    ("recall", recall),
    ("f1", f1),
    ("roc-auc", auc),
]:
    print(f"{name:>10}: {value:.3f}")
""",
    ),
    (
        "code",
        """
with open("confusion_matrix.csv", "w", newline="") as f:
    writer = csv.writer(f)
    for target in (0, 1):
        for guess in (0, 1):
            count = sum(1 for p, t in zip(predicted, y, strict=True) if t == target and p == guess)
            writer.writerow([LABELS[target], LABELS[guess], count])

with open("roc.csv", "w", newline="") as f:
    csv.writer(f).writerows((round(a, 4), round(b, 4), round(c, 4)) for a, b, c in roc)

importance = sorted(model["importances"].items(), key=lambda kv: -kv[1])
importance_csv = "".join(f"{name},{share:.1%}\\n" for name, share in importance)

metadata = {
    "outputs": [
        {
            "type": "confusion_matrix",
            "format": "csv",
            "schema": [
                {"name": "target", "type": "CATEGORY"},
                {"name": "predicted", "type": "CATEGORY"},
                {"name": "count", "type": "NUMBER"},
            ],
            "labels": LABELS,
            "source": "confusion_matrix.csv",
        },
        {
            "type": "roc",
            "format": "csv",
            "schema": [
                {"name": "fpr", "type": "NUMBER"},
                {"name": "tpr", "type": "NUMBER"},
                {"name": "thresholds", "type": "NUMBER"},
            ],
            "source": "roc.csv",
        },
        {
            "type": "table",
            "format": "csv",
            "header": ["feature", "importance"],
            "storage": "inline",
            "source": importance_csv,
        },
    ]
}
with open("mlpipeline-ui-metadata.json", "w") as f:
    json.dump(metadata, f)

metrics = [
    {"name": "accuracy", "numberValue": round(accuracy, 4), "format": "PERCENTAGE"},
    {"name": "precision", "numberValue": round(precision, 4), "format": "PERCENTAGE"},
    {"name": "recall", "numberValue": round(recall, 4), "format": "PERCENTAGE"},
    {"name": "f1", "numberValue": round(f1, 4), "format": "RAW"},
    {"name": "roc-auc", "numberValue": round(auc, 4), "format": "RAW"},
]
with open("mlpipeline-metrics.json", "w") as f:
    json.dump({"metrics": metrics}, f)
""",
    ),
]

MAKE_NUMBERS = [
    ("md", "# Make some numbers\n\nWrites `numbers.csv` for the next step. This step succeeds."),
    (
        "code",
        """
import random

rng = random.Random(3)
numbers = [rng.randint(-5, 20) for _ in range(20)]
with open("numbers.csv", "w") as f:
    f.write("\\n".join(str(n) for n in numbers) + "\\n")
print(f"wrote {len(numbers)} numbers")
""",
    ),
]

CHECK_NUMBERS = [
    (
        "md",
        "# Check the numbers\n\nThis step fails **on purpose**: it shows how a failed notebook "
        "looks (its traceback is in the step's log, the executed notebook is kept) and that the "
        "steps after it do not run.",
    ),
    (
        "code",
        """
with open("numbers.csv") as f:
    numbers = [int(line) for line in f if line.strip()]
print(f"read {len(numbers)} numbers")
""",
    ),
    (
        "code",
        """
negative = [n for n in numbers if n < 0]
if negative:
    raise ValueError(f"{len(negative)} of {len(numbers)} numbers are negative: {negative}")
""",
    ),
]


# --------------------------------------------------------------------------------------------
# Elyra .pipeline files (format version 8, pipeline-flow v3)
# --------------------------------------------------------------------------------------------


def node_id(pipeline: str, filename: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{pipeline}/{filename}"))


def port(name: str, label: str, links: list[dict] | None = None) -> dict:
    data = {
        "id": name,
        "app_data": {"ui_data": {"cardinality": {"min": 0, "max": -1}, "label": label}},
    }
    if links is not None:
        data["links"] = links
    return data


def elyra_node(pipeline: str, spec: dict) -> dict:
    suffix = Path(spec["filename"]).suffix
    me = node_id(pipeline, spec["filename"])
    links = [
        {
            "id": str(uuid.uuid5(NAMESPACE, f"{pipeline}/{parent}->{spec['filename']}")),
            "node_id_ref": node_id(pipeline, parent),
            "port_id_ref": "outPort",
        }
        for parent in spec.get("after", [])
    ]
    params = {
        "filename": spec["filename"],
        "runtime_image": IMAGE,
        "dependencies": spec.get("dependencies", []),
        "include_subdirectories": False,
        "outputs": spec.get("outputs", []),
        "env_vars": spec.get("env_vars", []),
        "kubernetes_pod_annotations": [],
        "kubernetes_pod_labels": [],
        "kubernetes_secrets": [],
        "kubernetes_shared_mem_size": {},
        "kubernetes_tolerations": [],
        "mounted_volumes": [],
    }
    if spec.get("pipeline_parameters"):
        params["pipeline_parameters"] = spec["pipeline_parameters"]
    for key in ("cpu", "memory"):
        if key in spec:
            params[key] = spec[key]
    return {
        "id": me,
        "type": "execution_node",
        "op": OPS[suffix],
        "app_data": {
            "component_parameters": params,
            "label": spec["label"],
            "ui_data": {
                "label": spec["label"],
                "x_pos": spec["pos"][0],
                "y_pos": spec["pos"][1],
                "description": DESCRIPTIONS[suffix],
            },
        },
        "inputs": [port("inPort", "Input Port", links if links else None)],
        "outputs": [port("outPort", "Output Port")],
    }


def write_pipeline(
    path: Path,
    *,
    name: str,
    description: str,
    nodes: list[dict],
    parameters: list[dict],
    comments: list[tuple[str, str, tuple[int, int]]],
) -> None:
    pipeline = path.stem
    flow = {
        "doc_type": "pipeline",
        "version": "3.0",
        "json_schema": "http://api.dataplatform.ibm.com/schemas/common-pipeline/pipeline-flow/"
        "pipeline-flow-v3-schema.json",
        "id": "elyra-auto-generated-pipeline",
        "primary_pipeline": "primary",
        "pipelines": [
            {
                "id": "primary",
                "nodes": [elyra_node(pipeline, spec) for spec in nodes],
                "app_data": {
                    "ui_data": {
                        "comments": [
                            {
                                "id": str(uuid.uuid5(NAMESPACE, f"{pipeline}/comment/{target}")),
                                "x_pos": pos[0],
                                "y_pos": pos[1],
                                "width": 220,
                                "height": 60,
                                "content": text,
                                "associated_id_refs": [{"node_ref": node_id(pipeline, target)}],
                            }
                            for target, text, pos in comments
                        ]
                    },
                    "version": 8,
                    "runtime_type": "KUBEFLOW_PIPELINES",
                    "properties": {
                        "name": name,
                        "runtime": "Kubeflow Pipelines",
                        "description": description,
                        "pipeline_defaults": {
                            "runtime_image": IMAGE,
                            "env_vars": [],
                            "kubernetes_secrets": [],
                            "kubernetes_pod_annotations": [],
                            "kubernetes_pod_labels": [],
                            "kubernetes_tolerations": [],
                            "kubernetes_shared_mem_size": {},
                            "mounted_volumes": [],
                        },
                        "pipeline_parameters": parameters,
                    },
                },
                "runtime_ref": "",
            }
        ],
        "schemas": [],
    }
    path.write_text(json.dumps(flow, indent=2) + "\n")


def parameter(name: str, kind: str, value: object, description: str) -> dict:
    return {
        "name": name,
        "description": description,
        "default_value": {"type": kind, "value": value},
        "required": False,
    }


def main() -> None:
    demo = HERE / "demo"
    write_customers(demo / "data" / "customers.csv")
    write_notebook(demo / "profile_data.ipynb", PROFILE)
    write_notebook(demo / "train_model.ipynb", TRAIN)
    write_notebook(demo / "evaluate_model.ipynb", EVALUATE)
    write_pipeline(
        demo / "customer-churn.pipeline",
        name="customer-churn",
        description="Predict which customers of a subscription service will leave: prepare the "
        "data, profile it to an HTML report, train a decision tree with a tunable depth, and "
        "evaluate it (metrics, confusion matrix, ROC curve).",
        nodes=[
            {
                "label": "Prepare data",
                "filename": "prepare_data.py",
                "dependencies": ["data/customers.csv"],
                "outputs": ["train.csv", "test.csv"],
                "env_vars": [{"env_var": "SOURCE_CSV", "value": "data/customers.csv"}],
                "pipeline_parameters": ["TEST_FRACTION"],
                "pos": (80, 200),
            },
            {
                "label": "Profile data",
                "filename": "profile_data.ipynb",
                "outputs": ["data_profile.html"],
                "after": ["prepare_data.py"],
                "pos": (360, 80),
            },
            {
                "label": "Train model",
                "filename": "train_model.ipynb",
                "dependencies": ["churn_model.py"],
                "outputs": ["model.json"],
                "after": ["prepare_data.py"],
                "pipeline_parameters": ["MAX_DEPTH", "MIN_SAMPLES_LEAF"],
                "cpu": 1,
                "memory": 1,
                "pos": (360, 320),
            },
            {
                "label": "Evaluate model",
                "filename": "evaluate_model.ipynb",
                "dependencies": ["churn_model.py"],
                "outputs": ["confusion_matrix.csv", "roc.csv"],
                "after": ["train_model.ipynb"],
                "pos": (640, 320),
            },
        ],
        parameters=[
            parameter(
                "MAX_DEPTH", "Integer", 4, "How many questions the tree may ask in a row (1-10)"
            ),
            parameter("MIN_SAMPLES_LEAF", "Integer", 10, "The fewest customers a leaf may hold"),
            parameter("TEST_FRACTION", "Float", 0.25, "Share of customers kept for evaluation"),
        ],
        comments=[
            ("prepare_data.py", "Fills gaps, splits train/test (a Python script)", (40, 100)),
            ("profile_data.ipynb", "An HTML data profile, shown in the run page", (330, -10)),
            ("evaluate_model.ipynb", "Metrics, confusion matrix and ROC curve", (610, 230)),
        ],
    )

    failing = HERE / "failing"
    failing.mkdir(exist_ok=True)
    write_notebook(failing / "make_numbers.ipynb", MAKE_NUMBERS)
    write_notebook(failing / "check_numbers.ipynb", CHECK_NUMBERS)
    write_pipeline(
        failing / "failing.pipeline",
        name="failing",
        description="A pipeline whose second step raises on purpose: shows a failed step, its "
        "traceback, and the steps after it left unrun.",
        nodes=[
            {
                "label": "Make numbers",
                "filename": "make_numbers.ipynb",
                "outputs": ["numbers.csv"],
                "pos": (80, 120),
            },
            {
                "label": "Check numbers",
                "filename": "check_numbers.ipynb",
                "after": ["make_numbers.ipynb"],
                "pos": (340, 120),
            },
            {
                "label": "Report",
                "filename": "report.py",
                "after": ["check_numbers.ipynb"],
                "pos": (600, 120),
            },
        ],
        parameters=[],
        comments=[("check_numbers.ipynb", "Raises a ValueError on purpose", (310, 40))],
    )


if __name__ == "__main__":
    main()
