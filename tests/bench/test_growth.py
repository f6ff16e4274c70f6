"""bench/growth.py: a bench's figures kept per size and compared with the next smaller size."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import growth  # bench/ is a folder of scripts, not a package


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("YDP_BENCH_RESULTS", str(tmp_path))
    return tmp_path


def test_nothing_to_compare_with_at_the_first_size(results: Path) -> None:
    growth.record("runs_list", 100_000, {"default": {"page": 10.0}})
    assert growth.report("runs_list", 100_000, {"default": {"page": 10.0}}, "page") == []
    assert (results / "runs_list-100000.json").exists()


def test_each_figure_beside_the_next_smaller_size(results: Path) -> None:
    growth.record("runs_list", 10_000, {"default": {"page": 1.0}})
    growth.record("runs_list", 100_000, {"default": {"page": 10.0}, "search": {"page": 20.0}})
    growth.record("catalog", 500_000, {"default": {"page": 1.0}})  # another bench: ignored
    lines = growth.report(
        "runs_list",
        1_000_000,
        {"default": {"page": 14.0}, "search": {"page": 31.0}, "new page": {"page": 5.0}},
        "page",
    )
    assert lines[0].startswith("growth 100,000 -> 1,000,000 (page;")
    default, search = lines[1:]
    assert "default" in default and "x1.40" in default and default.endswith("ok")
    assert "search" in search and "x1.55" in search and search.endswith("MISSED")


def test_a_rerun_replaces_the_size_and_a_broken_file_is_skipped(results: Path) -> None:
    growth.record("sync", 1_000, {"steady": {"page": 0.5}})
    growth.record("sync", 1_000, {"steady": {"page": 0.1}})
    (results / "sync-5000.json").write_text("{not json")
    lines = growth.report("sync", 10_000, {"steady": {"page": 0.12}}, "page")
    assert "x1.20" in lines[1]


def test_a_figure_neither_size_has_prints_nothing(results: Path) -> None:
    growth.record("catalog", 10_000, {"default": {"page": 1.0}})
    assert growth.report("catalog", 100_000, {"default": {"page": 1.2}}, "db_cpu") == []
