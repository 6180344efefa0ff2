"""BENCHMARKS.md is generated from bench/results/*.json by bench/report.py: the committed file must be
exactly what the results give, and every result file must have its section."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_committed_benchmarks_doc_is_what_the_results_give(report):
    generated = report.render(report.load())
    assert (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8") == generated, (
        "BENCHMARKS.md differs from bench/results/*.json: run `python bench/report.py` (never edit it by hand)")


def test_every_result_file_has_a_section(report):
    read = {name for section in report.SECTIONS for name in section.files}
    written = {p.stem for p in (ROOT / "bench" / "results").glob("*.json")}
    assert written <= read, f"no section in bench/report.py SECTIONS reads {sorted(written - read)}"


def test_a_table_shows_the_run_it_comes_from_and_a_missing_run_is_named(report, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(ROOT / "bench" / "results", results)
    startup = json.loads((results / "startup.json").read_text())
    startup["run"] |= {"date": "2031-01-02 03:04 UTC", "load_avg_1m": [0.5, 0.75]}
    startup["results"][0]["after_s"] = 0.123
    (results / "startup.json").write_text(json.dumps(startup))
    (results / "scale.json").unlink()
    text = report.render(report.load(results))
    assert "*Run: 2031-01-02 03:04 UTC · 2 CPUs, Python" in text and "load 0.5 → 0.8" in text
    assert "| 0.12 s | met |" in text
    assert "*Not run yet: `bench/results/scale.json`.*" in text
