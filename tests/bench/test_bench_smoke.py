"""Every bench still runs: each script in its small --smoke mode, as a subprocess.

A bench that nothing runs stops working unseen (bench/runs_list.py once failed to load after a
migration added a column); here a broken bench fails the suite. The figures are not asserted:
speed is measured by the full benches, on a quiet machine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import shared_path

ROOT = Path(__file__).resolve().parents[2]
DATABASE_URL = os.environ.get("DATABASE_URL", "")

pytestmark = pytest.mark.skipif(
    not DATABASE_URL.startswith(("postgres://", "postgresql://")),
    reason="the benches load PostgreSQL (COPY, VACUUM): DATABASE_URL is not PostgreSQL",
)


# Named after this session's database and xdist worker: two test sessions side by side (two
# worktrees, two workers) must never drop each other's bench database.
SMOKE_DB = "_".join(
    (
        DATABASE_URL.split("?")[0].rsplit("/", 1)[-1] or "ydp",
        "bench",
        os.environ.get("PYTEST_XDIST_WORKER", "main"),
    )
)


def fresh_databases() -> None:
    """Drop the smoke databases: one left by other code (another branch's migrations) must not
    decide whether this code's benches load. The benches create and migrate them again."""
    import psycopg

    server = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server.replace("postgres://", "postgresql://", 1), autocommit=True) as c:
        # runs_list.py --smoke adds "_smoke"; peer_mlflow.py --smoke keeps MLflow's in "_mlflow"
        names = (SMOKE_DB, f"{SMOKE_DB}_smoke", f"{SMOKE_DB}_mlflow", f"{SMOKE_DB}_smoke_mlflow")
        for name in names:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_bench(script: str, *args: str, timeout: int = 240, **extra_env: str) -> str:
    fresh_databases()
    env = {
        **os.environ,
        **extra_env,
        # The benches' own database, never the one the app or the tests use.
        "DATABASE_URL": DATABASE_URL.rsplit("/", 1)[0] + "/" + SMOKE_DB,
    }
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--smoke", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"bench/{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_render_bench() -> None:
    out = run_bench("render.py")
    assert "import: the Elyra importer" in out
    assert "manifest" in out


@pytest.mark.slow
def test_engine_bench() -> None:
    out = run_bench("engine.py")
    assert "per-step overhead over a bare spawn" in out
    assert "accept a 50-node DAG" in out
    assert "list 50 running workflows" in out
    assert "DAG of 20 no-op steps" in out and "CPU of the engine and its steps" in out
    assert "fan-out of 5 tiny Python scripts" in out and "x bare" in out


def test_sync_bench(tmp_path: Path) -> None:
    out = run_bench("sync.py", YDP_BENCH_RESULTS=str(tmp_path))
    assert "steps stored: 100" in out
    assert "runs of history: 0 (0 active ones parked for the bench)" in out, out
    (kept,) = tmp_path.glob("sync-*.json")
    assert json.loads(kept.read_text())["figures"]["moved (one step each)"]["page"] > 0
    assert "RESULT sync pass when all 20 workflows moved (one step each)" in out
    assert "RESULT phase change -> run page" in out


MLFLOW_INSTALLED = (ROOT / "var" / "bench-mlflow-venv" / "bin" / "python").exists()


def assert_mlflow_figures(out: str) -> None:
    """MLflow answered the same question on the same data: its pages and their times."""
    assert "MLflow search_runs:" in out
    assert "all experiments: 10 runs on the page" in out
    assert "next page (token)" in out


def test_mlflow_bench_not_installed() -> None:
    """CI has no MLflow (and no network to install it): the bench says so and succeeds."""
    out = run_bench("peer_mlflow.py", YDP_BENCH_MLFLOW_VENV=str(ROOT / "var" / "no-such-venv"))
    assert out.strip() == "peer mlflow: not installed (bench/peer_mlflow.py --install)"


@pytest.mark.skipif(not MLFLOW_INSTALLED, reason="bench/peer_mlflow.py --install was not run")
def test_mlflow_bench() -> None:
    shared_path("tools", "runs_dataset.py")
    out = run_bench("peer_mlflow.py")
    assert "loaded in" in out
    assert_mlflow_figures(out)


def test_runs_list_bench(tmp_path: Path) -> None:
    """Ours, then MLflow's search in the same run with the ratios (or the line saying that
    MLflow is not installed)."""
    shared_path("tools", "runs_dataset.py")
    out = run_bench(
        "runs_list.py", "--peer", "mlflow", timeout=360, YDP_BENCH_RESULTS=str(tmp_path)
    )
    assert "loaded in" in out
    kept = json.loads((tmp_path / "runs_list-1000.json").read_text())["figures"]
    assert kept["default (newest first)"]["queries"] > 0 and kept["all experiments"]["page"] > 0
    assert "all experiments: 10 rows on the page" in out
    assert "default (newest first): 10 rows on the page" in out
    assert "sort by duration: 10 rows on the page" in out
    if MLFLOW_INSTALLED:
        assert_mlflow_figures(out)
        ratio = re.search(r"all experiments: MLflow [\d.]+ ms .* / our page ([\d.]+)x", out)
        assert ratio and float(ratio.group(1)) > 0, out
        # Same data, same question: the same runs (the first page of each).
        assert "first page: DIFFERENT" not in out
        assert out.count("first page: the same runs") == 2, out
    else:
        assert "peer mlflow: not installed (bench/peer_mlflow.py --install)" in out


def test_catalog_bench(tmp_path: Path) -> None:
    shared_path("tools", "runs_dataset.py")
    out = run_bench("catalog.py", YDP_BENCH_RESULTS=str(tmp_path))
    assert "loaded in" in out
    assert "executions, default" in out and "artifacts, by size" in out
    # Loading the steps keeps the runs' metrics (a TRUNCATE ... CASCADE of the steps once
    # emptied them, so that runs_list.py loaded everything again after it).
    assert "the runs' metrics kept: 20,000" in out, out
    kept = json.loads((tmp_path / "catalog-1000.json").read_text())
    assert kept["size"] == 1000
    assert kept["figures"]["executions, default"]["queries"] > 0
    assert kept["figures"]["artifacts, by size"]["page"] > 0


def test_api_runs_list_bench() -> None:
    shared_path("tools", "runs_dataset.py")
    out = run_bench("api_runs_list.py")
    assert "loaded in" in out
    assert "all experiments: 10 runs in the answer" in out and "API / page" in out


def test_run_wait_bench() -> None:
    out = run_bench("run_wait.py")
    assert "end detected after the workflow ended, push, beat's watcher running (now)" in out
    assert "push, the command's own watch + sync (no watcher)" in out
    assert "beat + 1 s poll (before)" in out
