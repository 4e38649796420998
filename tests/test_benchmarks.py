"""The benchmark script's smoke mode runs every section and writes its report (no timing is asserted;
its goal rows are not scored)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from wideDIP import OPERATORS

ROOT = Path(__file__).resolve().parents[1]


def test_smoke_benchmark_writes_its_json_and_figure(tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--out", str(tmp_path)],
        check=True,
        timeout=300,
        env={**os.environ, "WIDEDIP_CACHE_DIR": "off"},
        capture_output=True,
    )
    report = json.loads((tmp_path / "results.json").read_text())
    sections = {row["section"] for row in report["rows"]}
    assert {
        "peers",
        "scaling k",
        "scaling m",
        "scaling seeds",
        "scaling d (full)",
        "setup",
        "flow vs descent",
        "roofline",
        "figure 1 sweep",
        "setup per operator",
        "networks",
        "ntk tracking",
    } <= sections
    per_operator = [r for r in report["rows"] if r["section"] == "setup per operator"]
    assert {r["operator"] for r in per_operator} == set(OPERATORS) and all(r["seconds"] > 0 for r in per_operator)
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
