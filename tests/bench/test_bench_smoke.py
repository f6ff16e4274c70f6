"""Every bench still runs: each script in its small --smoke mode, as a subprocess.

A bench that nothing runs stops working unseen (bench/runs_list.py once failed to load after a
migration added a column); here a broken bench fails the suite. The figures are not asserted:
speed is measured by the full benches, on a quiet machine.
"""

from __future__ import annotations

import os
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


SMOKE_DB = "ydp_bench_smoke"


def fresh_databases() -> None:
    """Drop the smoke databases: one left by other code (another branch's migrations) must not
    decide whether this code's benches load. The benches create and migrate them again."""
    import psycopg

    server = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server.replace("postgres://", "postgresql://", 1), autocommit=True) as c:
        for name in (SMOKE_DB, f"{SMOKE_DB}_smoke"):  # runs_list.py --smoke adds "_smoke"
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_bench(script: str, *args: str, timeout: int = 240) -> str:
    fresh_databases()
    env = {
        **os.environ,
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


def test_engine_bench() -> None:
    out = run_bench("engine.py")
    assert "per-step overhead over a bare spawn" in out
    assert "accept a 50-node DAG" in out
    assert "list 50 running workflows" in out


def test_sync_bench() -> None:
    out = run_bench("sync.py")
    assert "steps stored: 100" in out
    assert "RESULT phase change -> run page" in out


def test_runs_list_bench() -> None:
    shared_path("tools", "runs_dataset.py")
    out = run_bench("runs_list.py")
    assert "loaded in" in out
    assert "all experiments: 10 rows on the page" in out
