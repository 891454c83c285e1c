"""The benchmark script runs and reports its ratios (on tiny registers: timings are not tested)."""

from __future__ import annotations

import importlib.util

from conftest import ROOT


def test_the_benchmark_times_stages_and_buttons_and_gives_a_verdict_per_target(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("ck_bench", ROOT / "benchmarks" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.syspath_prepend(str(ROOT / "samples"))  # the generator borrows the samples' makers
    monkeypatch.setattr(bench, "WORK", tmp_path)
    monkeypatch.setattr(bench, "ADDIN_ROWS", 150)
    texts = ["信用卡年费被多收，要求退还", "理财产品亏损，销售时未提示风险，要求赔偿"]
    stages = ["read", "validate", "classify", "dedupe", "followups", "risk", "report", "addin"]
    results = {n: bench.bench(n, stages, ROOT / "src", None, texts) for n in (200, 400)}
    table = bench.table(results)
    assert "read (load_register)" in table and "add-in 一键检查 (150 rows)" in table and "x2 rows costs" in table
    # Every operation is timed (each from the state the ones before left), then the report.
    assert all(f"| {name} " in table for name in stages[1:6]) and "report (build)" in table
    lines = bench.verdicts(results)
    assert any(line.startswith("200 rows: read = ") for line in lines)
    assert any(line.startswith("200 rows: of the read, file to rows = ") for line in lines)
    assert any(line.startswith("add-in 一键检查") for line in lines)
    assert any(line.startswith("classify per row:") for line in lines)
    assert lines[-1].startswith("scaling x2 rows")
    assert (tmp_path / f"register-{bench.GENERATOR}-400.xlsx").is_file()
