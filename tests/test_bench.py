"""The benchmark script runs and reports its ratios (on tiny registers: timings are not tested)."""

from __future__ import annotations

import importlib.util
import zipfile

from conftest import ROOT


def _bench(work=None, monkeypatch=None):
    """benchmarks/bench.py as a module; with ``work``, its files made there (and the samples' makers
    it borrows importable)."""
    spec = importlib.util.spec_from_file_location("ck_bench", ROOT / "benchmarks" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    if work is not None:
        monkeypatch.syspath_prepend(str(ROOT / "samples"))
        monkeypatch.setattr(bench, "WORK", work)
    return bench


def test_the_benchmark_times_stages_and_buttons_and_gives_a_verdict_per_target(tmp_path, monkeypatch):
    bench = _bench(tmp_path, monkeypatch)
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
    assert bench.TOUCH in table  # the scaling baseline (its place in the verdict: the test below)
    assert (tmp_path / f"register-{bench.GENERATOR}-400.xlsx").is_file()
    # The scaling verdict's stages once more, both sizes in turn; the verdict then reads those.
    in_turn = bench.growth_in_turn([200, 400], stages, 1, ROOT / "src")
    assert {"read (load_register)", bench.TOUCH, "validate", "risk", "report (build)", "report (save)"} <= set(in_turn)
    assert all(a > 0 and b > 0 for a, b in in_turn.values())
    assert "| risk " in bench.growth_table([200, 400], in_turn)
    assert bench.verdicts(results, in_turn)[-1].startswith("scaling x2 rows (timed in turn)")
    # A stage not asked for is neither timed nor judged, the read included.
    assert set(bench.growth_in_turn([200, 400], ["risk"], 1, ROOT / "src")) == {bench.TOUCH, "risk"}


def test_the_benchmark_reads_the_same_rows_as_a_batch_of_branch_files(tmp_path, monkeypatch):
    bench = _bench(tmp_path, monkeypatch)
    results = {300: bench.bench(300, ["batch"], ROOT / "src", None, None, files=7)}
    files = bench.batch_files(300, 7)
    assert files[0].parent.name == f"batch{bench.BATCH_MAKER}-{bench.register_path(300).stem}-7"
    sheets = [zipfile.ZipFile(f).read("xl/worksheets/sheet1.xml") for f in files]
    assert len(files) == 7 and all(b't="s"' in x and b"inlineStr" not in x for x in sheets)  # every text shared, as Excel saves
    # Every row once, under a title and the header, each file its share (300 = 42 + 6 x 43).
    assert sorted(len(bench.read_floor(f)) - 2 for f in files) == [42] + [43] * 6
    from complaintkit.loader import LoadOptions, load_registers
    from complaintkit.policy import load_policy

    read = load_registers([str(files[0].parent)], LoadOptions(load_policy())).registers
    assert len(read) == 7 and sum(len(r.records) for r in read) == 300  # what the stage reads
    assert bench.BATCH_READ in bench.table(results) and "read (load_register)" not in bench.table(results)
    assert "read floor (calamine)" not in results[300]  # the batch has its own floor
    [line] = [line for line in bench.verdicts(results) if "batch" in line]
    assert line.startswith("300 rows in a batch of files: read = ") and "target 1.5x" in line
    # Judged by wall time against the floor, which is a baseline of the scaling verdict.
    figures = {"read floor (calamine)": {"wall": 1.0, "cpu": 1.0, "rss": 1.0}}
    for read_s, verdict in ((1.5, "met"), (1.6, "not met")):
        judged = {**figures, bench.BATCH_FLOOR: {"wall": 2.0, "cpu": 2.0, "rss": 1.0},
                  bench.BATCH_READ: {"wall": 2.0 * read_s, "cpu": 9.0, "rss": 1.0}}
        [line] = [line for line in bench.verdicts({300: judged}) if "batch" in line]
        assert line.endswith(f"target 1.5x: {verdict}"), line
    assert bench.BATCH_FLOOR in bench.BASELINES and bench.BATCH_READ not in bench.BASELINES


def test_the_scaling_verdict_judges_complaintkit_stages_and_shows_the_baselines_beside_it():
    bench = _bench()

    def figures(**cpu):
        return {name.replace("_", " "): {"wall": v, "cpu": v, "rss": 1.0} for name, v in cpu.items()}

    small = {"read floor (calamine)": {"wall": 1.0, "cpu": 1.0, "rss": 1.0}, bench.TOUCH: {"wall": 0.1, "cpu": 0.1, "rss": 1.0},
             **figures(validate=0.1, dedupe=0.1)}
    steady = {"read floor (calamine)": {"wall": 14.0, "cpu": 14.0, "rss": 1.0}, bench.TOUCH: {"wall": 1.3, "cpu": 1.3, "rss": 1.0},
              **figures(validate=1.1, dedupe=1.2)}
    line = bench.verdicts({1000: small, 10000: steady})[-1]
    assert line.startswith("scaling x10 rows: every stage <= x12 time (cpu) - met;")
    assert "read floor (calamine) x14.0" in line and "x13.0" in line
    grown = {**steady, **figures(dedupe=1.3)}
    line = bench.verdicts({1000: small, 10000: grown})[-1]
    assert "not met: dedupe x13.0;" in line and "validate" not in line.split(";")[0]
    # The classify operation scales with the register; the classify comparison and the add-in
    # presses take the same rows at every size and are not judged.
    fixed = {"classify 10,000 generated rows": {"wall": 0.1, "cpu": 0.1, "rss": 1.0},
             "add-in 一键检查 (10,000 rows)": {"wall": 0.1, "cpu": 0.1, "rss": 1.0}}
    line = bench.verdicts({1000: {**small, **fixed, **figures(classify=0.1)},
                           10000: {**steady, **{k: {**v, "cpu": 2.0} for k, v in fixed.items()}, **figures(classify=1.3)}})[-1]
    assert line.split(";")[0].endswith("not met: classify x13.0")
    # Figures timed in turn, when there are any, decide the verdict instead of the per-size ones.
    line = bench.verdicts({1000: small, 10000: grown}, {"dedupe": (0.1, 1.15), bench.TOUCH: (0.1, 1.1)})[-1]
    assert line.startswith("scaling x10 rows (timed in turn): every stage <= x12 time (cpu) - met;")
    assert "x11.0" in line


def test_the_branch_mix_flags_fewer_rows_than_the_stress_register_and_keeps_its_own_files(tmp_path, monkeypatch):
    bench = _bench(tmp_path, monkeypatch)
    from complaintkit.loader import LoadOptions, load_register
    from complaintkit.operations import OpContext, run_operation
    from complaintkit.policy import load_policy

    policy = load_policy()
    flagged, regulator = {}, {}
    for name, mix in bench.MIXES.items():
        monkeypatch.setattr(bench, "MIX", mix)
        path = bench.register_path(600)
        bench.generate(path, 600)
        reg = load_register(path, LoadOptions(policy))
        risk = run_operation("risk", [reg], OpContext(policy, bench.AS_OF, "zh")).detail
        flagged[name] = sum(r.level != "none" for r in risk.rows) / len(risk.rows)
        regulator[name] = sum(r.get("channel") == "监管转办" for r in reg.records) / len(reg.records)
    assert bench.register_path(600).name == f"register-{bench.GENERATOR}-branch-600.xlsx"
    assert (tmp_path / f"register-{bench.GENERATOR}-600.xlsx").is_file()  # the stress register keeps its name
    assert flagged["stress"] > 0.7 and flagged["branch"] < 0.45
    assert regulator["stress"] > 0.15 and regulator["branch"] < 0.05


def test_of_several_runs_the_fastest_counts_by_the_measure_the_stage_is_judged_on(monkeypatch):
    bench = _bench()

    class Clock:  # two runs: the first slower on the wall clock (read on two cores), the second in cpu
        def __init__(self):
            self.wall, self.cpu = iter([0.0, 8.0, 10.0, 19.5]), iter([0.0, 11.0, 20.0, 29.5])

        def perf_counter(self):
            return next(self.wall)

        def process_time(self):
            return next(self.cpu)

    for name, expected in (("read (load_register)", (8.0, 11.0)), ("validate", (9.5, 9.5)),
                           (bench.BATCH_READ, (8.0, 11.0)), (bench.BATCH_FLOOR, (8.0, 11.0))):
        clock = Clock()
        monkeypatch.setattr(bench, "time", clock)
        stages = bench.Stages()
        stages.time(name, lambda: None, best_of=2)
        assert (stages.figures[name]["wall"], stages.figures[name]["cpu"]) == expected


def test_the_core_probe_compares_two_threads_with_one():
    bench = _bench()
    # Two cores here at most: twice the work in the time of one pass is 2.0, in twice its time 1.0.
    assert 0.3 < bench.cores_delivered(8) < 4
