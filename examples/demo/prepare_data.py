"""Load the customer table, check it, fill the gaps and split it into a train and a test set.

Pipeline parameter (an environment variable, Elyra's convention): TEST_FRACTION, the share of
customers kept aside to evaluate the model (default 0.25). The node's env var SOURCE_CSV names
the table to read.
Outputs: train.csv and test.csv, read by the profile, train and evaluate steps.
"""

import csv
import json
import os
import random
import statistics

SOURCE = os.environ.get("SOURCE_CSV", "data/customers.csv")
CONTRACTS = {"month-to-month": 0, "one-year": 1, "two-year": 2}
COLUMNS = [
    "customer_id",
    "tenure_months",
    "monthly_charges",
    "support_calls",
    "contract",
    "autopay",
]

test_fraction = float(os.environ.get("TEST_FRACTION", "0.25"))
if not 0.05 <= test_fraction <= 0.5:
    raise SystemExit(f"TEST_FRACTION must be between 0.05 and 0.5, got {test_fraction}")

with open(SOURCE, newline="") as f:
    raw = list(csv.DictReader(f))
print(f"read {len(raw)} customers from {SOURCE}")

missing_columns = [c for c in [*COLUMNS, "churned"] if c not in raw[0]]
if missing_columns:
    raise SystemExit(f"{SOURCE} lacks the column(s) {', '.join(missing_columns)}")

# A few customers have no monthly charge recorded: fill in the median, and say how many.
charges = [float(r["monthly_charges"]) for r in raw if r["monthly_charges"]]
median_charge = round(statistics.median(charges), 2)
filled = 0
rows = []
for r in raw:
    if not r["monthly_charges"]:
        r["monthly_charges"] = median_charge
        filled += 1
    rows.append(
        {
            "customer_id": r["customer_id"],
            "tenure_months": int(r["tenure_months"]),
            "monthly_charges": float(r["monthly_charges"]),
            "support_calls": int(r["support_calls"]),
            "contract_years": CONTRACTS[r["contract"]],
            "autopay": 1 if r["autopay"] == "yes" else 0,
            "churned": int(r["churned"]),
        }
    )
print(f"filled {filled} missing monthly_charges with the median ({median_charge})")

# A split that is the same on every run, so that runs with different parameters compare fairly.
random.Random(7).shuffle(rows)
n_test = round(len(rows) * test_fraction)
splits = {"test.csv": rows[:n_test], "train.csv": rows[n_test:]}
for name, part in splits.items():
    with open(name, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(part[0]))
        writer.writeheader()
        writer.writerows(part)
    churn_rate = sum(r["churned"] for r in part) / len(part)
    print(f"wrote {name}: {len(part)} customers, {churn_rate:.1%} churned")

table = "\n".join(
    f"| {name[:-4]} | {len(part)} | {sum(r['churned'] for r in part) / len(part):.1%} |"
    for name, part in splits.items()
)
summary = f"""## Data preparation

| | customers | churn rate |
|---|---:|---:|
{table}

{filled} missing `monthly_charges` were filled with the median, {median_charge}.
"""
with open("mlpipeline-ui-metadata.json", "w") as f:
    json.dump({"outputs": [{"type": "markdown", "storage": "inline", "source": summary}]}, f)
