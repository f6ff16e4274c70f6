"""A small decision tree (CART, Gini impurity) in plain Python, shared by the train and evaluate
notebooks. Plain Python keeps the demo runnable in any image with Python 3."""

from __future__ import annotations

import csv
import json

FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract_years", "autopay"]
TARGET = "churned"
LABELS = ["stays", "churns"]  # class 0, class 1


def read_rows(path: str) -> tuple[list[list[float]], list[int]]:
    """Features and labels of a prepared CSV (as written by prepare_data.py)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    x = [[float(row[name]) for name in FEATURES] for row in rows]
    y = [int(row[TARGET]) for row in rows]
    return x, y


def _gini(positives: int, total: int) -> float:
    if total == 0:
        return 0.0
    p = positives / total
    return 2 * p * (1 - p)


def _best_split(x, y, indices, min_leaf):
    """(gain, feature, threshold) of the best split of `indices`, or None."""
    total, positives = len(indices), sum(y[i] for i in indices)
    parent = _gini(positives, total)
    best = None
    for feature in range(len(FEATURES)):
        ordered = sorted(indices, key=lambda i: x[i][feature])
        left_pos = 0
        for n in range(1, total):
            left_pos += y[ordered[n - 1]]
            low, high = x[ordered[n - 1]][feature], x[ordered[n]][feature]
            if low == high or n < min_leaf or total - n < min_leaf:
                continue
            impurity = (
                n * _gini(left_pos, n) + (total - n) * _gini(positives - left_pos, total - n)
            ) / total
            gain = parent - impurity
            if best is None or gain > best[0] + 1e-12:
                best = (gain, feature, (low + high) / 2)
    return best


def fit(x, y, max_depth: int = 4, min_samples_leaf: int = 10) -> dict:
    """A tree as nested dicts: leaves hold the share of class 1 among their training rows."""
    importances = [0.0] * len(FEATURES)

    def grow(indices, depth):
        positives = sum(y[i] for i in indices)
        leaf = {"p": positives / len(indices), "n": len(indices)}
        if depth >= max_depth or positives in (0, len(indices)):
            return leaf
        split = _best_split(x, y, indices, min_samples_leaf)
        if split is None or split[0] <= 0:
            return leaf
        gain, feature, threshold = split
        importances[feature] += gain * len(indices)
        left = [i for i in indices if x[i][feature] <= threshold]
        right = [i for i in indices if x[i][feature] > threshold]
        return {
            "feature": FEATURES[feature],
            "threshold": round(threshold, 4),
            "n": len(indices),
            "left": grow(left, depth + 1),
            "right": grow(right, depth + 1),
        }

    tree = grow(list(range(len(y))), 0)
    scale = sum(importances) or 1.0
    return {
        "max_depth": max_depth,
        "min_samples_leaf": min_samples_leaf,
        "features": FEATURES,
        "importances": {name: v / scale for name, v in zip(FEATURES, importances, strict=True)},
        "tree": tree,
    }


def predict_proba(model: dict, rows: list[list[float]]) -> list[float]:
    """Probability of class 1 ("churns") for each row."""
    index = {name: i for i, name in enumerate(model["features"])}
    out = []
    for row in rows:
        node = model["tree"]
        while "feature" in node:
            side = "left" if row[index[node["feature"]]] <= node["threshold"] else "right"
            node = node[side]
        out.append(node["p"])
    return out


def count_leaves(node: dict) -> int:
    if "feature" not in node:
        return 1
    return count_leaves(node["left"]) + count_leaves(node["right"])


def rules(node: dict, depth: int = 0) -> list[str]:
    """The tree as indented markdown list lines, for a human."""
    pad = "  " * depth
    if "feature" not in node:
        return [f"{pad}- **{node['p']:.0%} churn** ({node['n']} customers)"]
    name, t = node["feature"], node["threshold"]
    return [
        f"{pad}- if `{name} <= {t:g}`",
        *rules(node["left"], depth + 1),
        f"{pad}- if `{name} > {t:g}`",
        *rules(node["right"], depth + 1),
    ]


def save(model: dict, path: str) -> None:
    with open(path, "w") as f:
        json.dump(model, f, indent=1)


def load(path: str) -> dict:
    with open(path) as f:
        return json.load(f)
