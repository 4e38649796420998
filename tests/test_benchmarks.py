"""The benchmark script's smoke mode runs every section and writes its report (no timing is asserted;
its goal rows are not scored); its timings warm up past compilation and report their spread."""

import importlib.util
import itertools
import json
import os
import subprocess
import sys
import types
from pathlib import Path

from wideDIP import OPERATORS

ROOT = Path(__file__).resolve().parents[1]
MEASURED = {
    "peers",
    "images",
    "scaling k",
    "scaling m",
    "scaling seeds",
    "scaling d (full)",
    "setup",
    "setup per operator",
    "flow vs descent",
    "stiff solves",
    "update rules",
    "networks",
    "ntk tracking",
    "roofline",
}
"""The sections whose rows are repeated measurements (a median and its spread)."""


def markdown_tables(text: str) -> dict[str, list[dict[str, str]]]:
    """results.md's tables by section: each row as {column: cell}."""
    lines = text.splitlines()
    tables = {}
    for index, line in enumerate(lines):
        if line.startswith("**") and line.endswith("**"):
            header = [cell.strip() for cell in lines[index + 2].strip("|").split("|")]
            body = itertools.takewhile(lambda cells: cells.startswith("|"), lines[index + 4 :])
            tables[line.strip("*")] = [dict(zip(header, [c.strip() for c in b.strip("|").split("|")])) for b in body]
    return tables


def test_smoke_benchmark_writes_its_json_and_figure(tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--out", str(tmp_path)],
        check=True,
        timeout=300,
        # one OpenBLAS thread (jaxlib's LAPACK: the dense-LU stiff solves): beside other busy processes on
        # the 2 cores, two threads' spin-waits made those solves 3-4x slower (minutes of the smoke run)
        env={**os.environ, "WIDEDIP_CACHE_DIR": "off", "OPENBLAS_NUM_THREADS": "1"},
        capture_output=True,
    )
    report = json.loads((tmp_path / "results.json").read_text())
    sections = {row["section"] for row in report["rows"]}
    assert MEASURED | {"figure 1 sweep"} <= sections
    per_operator = [r for r in report["rows"] if r["section"] == "setup per operator"]
    assert {r["operator"] for r in per_operator} == set(OPERATORS) and all(r["seconds"] > 0 for r in per_operator)
    rules = {r["optimizer"]: r["parametrization"] for r in report["rows"] if r["section"] == "update rules"}
    assert rules == {"sgd": "reduced", "heavy_ball": "reduced", "adam": "full"}
    reduced = [r for r in report["rows"] if r.get("implementation") == "wideDIP reduced"]
    assert len(reduced) == 2 and all(r["seed_steps_per_s"] > 0 for r in reduced)
    assert (tmp_path / "throughput_vs_k.png").stat().st_size > 10_000
    goals = {row["goal"]: row for row in report["rows"] if row["section"] == "goals"}
    assert len(goals) == 9
    torch_row = "reduced loop / PyTorch loop at (10, 1000, 500, 1000)"  # skipped without torch
    assert all(
        row["met"] == "not scored in --smoke: settings too small"
        for name, row in goals.items()
        if name != torch_row or row["met"] != "skipped"
    )  # tiny settings: never scored against the goals
    assert goals["fig1 flow, solver_failed seeds"]["measured"] >= 0
    assert goals["fig2 flow, solver_failed seeds"]["measured"] >= 0
    assert all(
        goals[name]["measured"] > 0
        for name in (
            "fig1 descent, cold (s)",
            "fig2 descent, cold (s)",
            "reduced loop (10, 1000): all cores / one core",
            "Kvaerno5 step / Tsit5 step at (m, k) = (10, 1000)",
        )
    )
    markdown = (tmp_path / "results.md").read_text()
    assert report["jax"] in markdown and report["date"] in markdown and "| fig1 flow, cold (s) |" in markdown
    # one repetition in --smoke: every measured row has a spread, none (shown –)
    measured = [r for r in report["rows"] if r["section"] in MEASURED]
    assert report["repetitions"] == 1 and {r["section"] for r in measured} == MEASURED
    assert all("spread" in r and r["spread"] is None for r in measured)
    tables = markdown_tables(markdown)
    assert all(row["spread"] == "–" for section in MEASURED for row in tables[section])
    assert "(largest − smallest) / median" in markdown


def test_timing_warms_up_until_calls_stop_getting_faster_and_reports_the_spread(monkeypatch):
    monkeypatch.setenv("WIDEDIP_CPU_DEVICES", "1")  # the script sets it on import: restored afterwards
    spec = importlib.util.spec_from_file_location("benchmark_run", ROOT / "benchmarks" / "run.py")
    run = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "benchmark_run", run)
    spec.loader.exec_module(run)
    header = run.machine()  # date, machine and versions, before the clock is replaced
    # call times: compilation, a second compilation, warm, not faster (warm-up ends), then 3 timed
    durations, clock = iter([4.0, 2.0, 0.5, 0.625, 0.375, 0.5, 0.625]), [0.0]
    monkeypatch.setattr(run, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))

    def call():
        clock[0] += next(durations)

    timing = run.timed(call, 3)
    assert timing.values == (0.375, 0.5, 0.625) and timing.median == 0.5 and timing.spread == 0.5
    assert timing.rate(10).values == (10 / 0.375, 20.0, 16.0)
    rows = []
    run.row(rows, "setup", shape="(1, 2, 3, 4)", seconds=timing)
    assert rows == [{"section": "setup", "shape": "(1, 2, 3, 4)", "seconds": 0.5, "spread": 0.5}]
    report = {**header, "mode": "quick", "seeds": 2, "repetitions": 3, "rows": rows}
    assert markdown_tables(run.markdown(report))["setup"] == [
        {"shape": "(1, 2, 3, 4)", "seconds": "0.5", "spread": "50 %"}
    ]
