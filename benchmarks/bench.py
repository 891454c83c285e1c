"""Benchmark: time each stage and the whole `run` on generated registers, against baselines
measured in the same run on the same files (so figures are ratios, not machine-bound seconds).

    python benchmarks/bench.py                       # 20,000 and 200,000 rows
    python benchmarks/bench.py --rows 10000 100000   # other sizes
    python benchmarks/bench.py --rows 1000000 --stages read,validate   # the million-row check

Baselines:
- read floor: python-calamine reading the same .xlsx into Python rows (the fastest reader here);
- write floor: openpyxl in write-only mode writing the same rows to a new .xlsx.
Targets (issue 9): read <= 1.5x the read floor; whole run <= 2x (read floor + write floor);
10x the rows <= 12x the time in every stage; add-in path for 10,000 rows < 1 s; peak memory
under 1.5 GB for 200,000 rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE.parent / "samples"))

from complaintkit.loader import LoadOptions, load_register  # noqa: E402
from complaintkit.operations import OpContext, available, run_operation  # noqa: E402
from complaintkit.policy import load_policy  # noqa: E402
from make_samples import HEADERS_ZH, ISSUES, ESCALATION_PHRASES, fill_text, make_person, retype, row_cells, FIELD_ORDER  # noqa: E402

WORK = HERE / "_work"
AS_OF = dt.date(2026, 11, 20)


def generate(path: Path, rows: int, seed: int = 1) -> None:
    """A register of ``rows`` rows with the mix real registers have: repeat customers, duplicates,
    text dates, a few bad IDs."""
    rng = random.Random(seed)
    people = [make_person(rng) for _ in range(max(10, rows // 3))]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("投诉登记台账")
    ws.append(["投诉登记台账（基准测试）"])
    ws.append(HEADERS_ZH)
    start = dt.date(2025, 12, 1)
    last_text = ""
    for i in range(rows):
        person = rng.choice(people)
        issue = rng.choice(ISSUES)
        received = start + dt.timedelta(days=rng.randint(0, 350))
        text = retype(rng, last_text) if (last_text and rng.random() < 0.03) else fill_text(rng, issue)
        if rng.random() < 0.05:
            text += rng.choice(ESCALATION_PHRASES)
        last_text = text
        status = rng.choice(["已办结", "已办结", "已办结", "处理中", "待处理"])
        closed = received + dt.timedelta(days=rng.randint(1, 20)) if status == "已办结" else None
        values = {
            "complaint_id": f"B{i:07d}", "received_date": received if rng.random() > 0.1 else received.strftime("%Y年%m月%d日"),
            "channel": rng.choice(["柜面", "客服热线", "手机银行", "监管转办", "电话"]), "branch": f"第{rng.randint(1, 300)}支行",
            "customer_name": person.name, "id_number": person.id_number, "phone": person.phone, "customer_tier": person.tier,
            "business_line": issue.business, "description": text, "demand": issue.demands[0], "category": "",
            "handler": "经办人", "transfers": rng.randint(0, 3), "status": status, "extended": "否", "closed_date": closed,
            "followup_date": closed + dt.timedelta(days=2) if closed and rng.random() < 0.7 else None,
            "followup_result": rng.choice(["满意", "基本满意", "不满意"]) if closed else None, "escalated": "否", "remarks": "",
        }
        ws.append(row_cells(values))
    wb.save(path)


def timed(func, *args):
    gc.collect()
    t0 = time.perf_counter()
    out = func(*args)
    return time.perf_counter() - t0, out


def read_floor(path: Path) -> int:
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(path))
    return len(wb.get_sheet_by_name(wb.sheet_names[0]).to_python())


def write_floor(rows: list[list], path: Path) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("out")
    for r in rows:
        ws.append(r)
    wb.save(path)


def whole_run(path: Path, out: Path) -> tuple[float, int]:
    """The whole `run` in a child process: seconds and peak RSS (MiB)."""
    cmd = [sys.executable, "-m", "complaintkit", "run", str(path), "--as-of", AS_OF.isoformat(), "--report", str(out),
           "--force", "--quiet"]
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(cmd, check=False, env={**os.environ, "PYTHONPATH": str(HERE.parent / "src")})
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) // 1024


def bench(rows: int, stages: list[str] | None) -> dict[str, float]:
    WORK.mkdir(exist_ok=True)
    path = WORK / f"register-{rows}.xlsx"
    if not path.exists():
        t0 = time.perf_counter()
        generate(path, rows)
        print(f"  generated {path.name} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    policy = load_policy()
    result: dict[str, float] = {}
    result["read floor (calamine)"], _ = timed(read_floor, path)
    result["read (load_register)"], reg = timed(load_register, path, LoadOptions(policy))
    ctx = OpContext(policy, AS_OF, "zh", True)
    for name in available():
        if stages and name not in stages:
            continue
        result[name], _ = timed(run_operation, name, [reg], ctx)
    if not stages or "run" in stages:
        values = [[rec.raw.get(f) for f in FIELD_ORDER] for rec in reg.records]
        result["write floor (openpyxl write-only)"], _ = timed(write_floor, values, WORK / "floor.xlsx")
        seconds, peak = whole_run(path, WORK / f"report-{rows}.xlsx")
        result["whole run (report)"] = seconds
        result["peak MiB (whole run)"] = float(peak)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[20000, 200000])
    parser.add_argument("--stages", default=None, help="comma-separated: validate,dedupe,classify,followups,risk,run")
    args = parser.parse_args()
    stages = args.stages.split(",") if args.stages else None
    results = {n: bench(n, stages) for n in args.rows}
    names = list(next(iter(results.values())))
    header = ["stage"] + [f"{n:,} rows" for n in args.rows]
    if len(args.rows) >= 2:
        header.append(f"x{args.rows[-1] // args.rows[0]} rows costs")
    lines = [header]
    for name in names:
        line = [name] + [f"{results[n].get(name, float('nan')):.2f}" for n in args.rows]
        if len(args.rows) >= 2 and not name.startswith("peak"):
            a, b = results[args.rows[0]].get(name), results[args.rows[-1]].get(name)
            line.append(f"x{b / a:.1f}" if a and b else "")
        lines.append(line)
    widths = [max(len(str(l[i])) for l in lines if i < len(l)) for i in range(len(header))]
    for l in lines:
        print("  ".join(str(c).ljust(w) for c, w in zip(l, widths)))
    for n, r in results.items():
        floor = r["read floor (calamine)"]
        print(f"\n{n:,} rows: read = {r['read (load_register)'] / floor:.2f}x the calamine floor "
              f"({n / r['read (load_register)']:,.0f} rows/s vs {n / floor:,.0f} rows/s)")
        if "whole run (report)" in r:
            io_floor = floor + r["write floor (openpyxl write-only)"]
            print(f"{n:,} rows: whole run = {r['whole run (report)'] / io_floor:.2f}x the read+write floor; peak {r['peak MiB (whole run)']:.0f} MiB")


if __name__ == "__main__":
    main()
