"""Sweeps (docs/theory.md §6): grid statistics, storage that survives SIGKILL, refusal of a
different sweep, the figure's colour data."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from wideDIP import Config, load_sweep, preset, simulate, sweep
from wideDIP._analysis.statistics import QUARTILE_STATISTICS, QUARTILES

BASE = Config(m=4, d=6, seeds=6, steps=1500, operator_scale="sqrt_n", step_size=2.0, threshold=1e-5)
AXES = {"k": [8, 40], "n": [6, 30]}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return sweep(BASE, AXES, tmp_path_factory.mktemp("reference"), progress=False)


def test_cells_are_simulations_of_the_replaced_config(reference):
    assert reference.shape == (2, 2)
    for i, k in enumerate(AXES["k"]):
        for j, n in enumerate(AXES["n"]):
            direct = simulate(BASE.replace(k=k, n=n), progress=False)
            assert reference.frequency[i, j] == direct.frequency
            assert reference.counts("converged")[i, j] == direct.counts()["converged"]
            assert reference.counts("stalled")[i, j] == direct.counts()["stalled"]
            assert reference.median_stability[i, j] == pytest.approx(np.median(direct.stability), rel=1e-6)
            steps = direct.steps_to_threshold[direct.converged]
            quartiles = np.percentile(steps, [25, 50, 75]) if steps.size else [np.nan] * 3
            for position, name in enumerate(QUARTILES):
                by_name = reference.statistic("steps_to_threshold", name)[i, j]
                np.testing.assert_array_equal(
                    [by_name, reference.statistic("steps_to_threshold", position)[i, j]], [quartiles[position]] * 2
                )
    assert 0 < reference.frequency.mean() < 1  # the grid straddles the transition
    assert np.isnan(reference.certified_fraction).all()  # no track_ntk


def test_resume_after_sigkill_is_bit_identical(reference, tmp_path):
    """A subprocess runs the sweep and is killed with SIGKILL while computing a cell; the
    resumed sweep ends with the same bits as the uninterrupted one."""
    script = (
        f"import wideDIP; wideDIP.sweep(wideDIP.Config(**{BASE.to_dict()!r}), {AXES!r}, {str(tmp_path)!r}, "
        "progress=False, workers=1)"
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    cells = tmp_path / "cells"
    deadline = time.time() + 120
    while time.time() < deadline and not (cells.exists() and any(cells.glob("cell-*.json"))):
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished = len(list(cells.glob("cell-*.json")))
    assert 1 <= finished < 4, "the kill must land in the middle of the sweep"
    resumed = sweep(BASE, AXES, tmp_path, progress=False)
    for i in np.ndindex(reference.shape):
        assert json.dumps(resumed.cells[i]) == json.dumps(reference.cells[i])
    assert not list(tmp_path.rglob("*.partial"))
    loaded = load_sweep(tmp_path)
    np.testing.assert_array_equal(loaded.frequency, reference.frequency)


def test_finished_cells_are_not_recomputed(reference):
    before = {p: p.stat().st_mtime_ns for p in (reference.path / "cells").iterdir()}
    again = sweep(BASE, AXES, reference.path, progress=False)
    assert {p: p.stat().st_mtime_ns for p in (reference.path / "cells").iterdir()} == before
    np.testing.assert_array_equal(again.wall_time, reference.wall_time)


def test_a_different_sweep_is_refused(reference):
    with pytest.raises(ValueError, match=r"another base config \(fields \['seeds'\] differ\)"):
        sweep(BASE.replace(seeds=7), AXES, reference.path, progress=False)
    with pytest.raises(ValueError, match="other axes"):
        sweep(BASE, {"k": [8, 41], "n": [6, 30]}, reference.path, progress=False)


def test_bad_axes():
    with pytest.raises(ValueError, match="not a Config field"):
        sweep(BASE, {"width": [1]}, progress=False)
    with pytest.raises(ValueError, match=r"Config\.k must be an integer >= 1"):
        sweep(BASE, {"k": [0, 1]}, progress=False)


def test_figure_colours_are_the_stored_frequencies(reference, tmp_path):
    figure = reference.plot(tmp_path / "phase")
    assert (tmp_path / "phase.png").stat().st_size > 10_000 and (tmp_path / "phase.pdf").exists()
    colours = np.asarray(figure.axes[0].collections[0].get_array()).reshape(reference.shape)
    np.testing.assert_array_equal(colours, reference.frequency)


def test_presets_follow_math_md_and_accept_overrides():
    base, axes = preset("fig1")
    assert (base.m, base.d, base.seeds, base.steps, base.step_size, base.threshold) == (10, 500, 50, 25000, 1.0, 1e-7)
    assert axes == {"k": [10, 20, 50, 100, 200, 500, 1000], "n": [10, 20, 50, 100, 200, 500, 1000]}
    base, axes = preset("fig2", method="flow", seeds=10, k=[10, 100])
    assert base.method == "flow" and base.seeds == 10 and base.n == 100
    assert axes == {"k": [10, 100], "m": [2, 5, 10, 20, 50, 100]}
    with pytest.raises(ValueError, match="preset must be one of"):
        preset("fig3")


def test_cli_sweep_and_plot(tmp_path, capsys):
    from wideDIP._cli import main

    out = tmp_path / "quick"
    arguments = [
        "sweep",
        "fig2-quick",
        "--k",
        "8",
        "40",
        "--m",
        "2",
        "4",
        "--n",
        "12",
        "--seeds",
        "4",
        "--steps",
        "300",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(arguments) == 0
    printed = capsys.readouterr().out
    assert "k / m" in printed and (out / "figure.png").exists()
    assert "signal error" not in printed and not (out / "recovery.png").exists()  # no noise: no recovery figure
    with pytest.raises(SystemExit):  # exists: needs --resume
        main(arguments)
    assert main(arguments + ["--resume"]) == 0
    assert main(["plot", str(out), "--figure", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again.png").exists()


def _copy_of(reference, tmp_path):
    import shutil

    return Path(shutil.copytree(reference.path, tmp_path / "copy"))


def _assert_same_cells(result, reference):
    for i in np.ndindex(reference.shape):
        assert json.dumps(result.cells[i]) == json.dumps(reference.cells[i])


def _in_format_1(directory: Path) -> None:
    """Rewrite a sweep directory as wideDIP wrote it before sweep format 2: quartiles as lists."""
    header = json.loads((directory / "sweep.json").read_text())
    (directory / "sweep.json").write_text(json.dumps({**header, "format": 1}))
    for cell in (directory / "cells").glob("cell-*.json"):
        record = json.loads(cell.read_text())
        for name in QUARTILE_STATISTICS:
            record["statistics"][name] = [record["statistics"][name][key] for key in QUARTILES]
        cell.write_text(json.dumps(record))


def test_a_format_1_sweep_loads_and_resumes_in_format_2(reference, tmp_path):
    """Format 1 (quartiles as lists) is read as format 2; resuming it rewrites the directory in format 2
    first, then computes the missing cells."""
    directory = _copy_of(reference, tmp_path)
    _in_format_1(directory)
    assert isinstance(
        json.loads((directory / "cells" / "cell-1-1.json").read_text())["statistics"]["time_to_threshold"], list
    )
    _assert_same_cells(load_sweep(directory), reference)
    (directory / "cells" / "cell-1-1.json").unlink()
    resumed = sweep(BASE, AXES, directory, progress=False)
    _assert_same_cells(resumed, reference)
    assert json.loads((directory / "sweep.json").read_text())["format"] == 2
    for cell in (reference.path / "cells").iterdir():  # rewritten as a format-2 sweep writes them (or recomputed)
        upgraded, written = (json.loads(path.read_text()) for path in (directory / "cells" / cell.name, cell))
        assert upgraded["cell"] == written["cell"] and upgraded["statistics"] == written["statistics"]


def test_a_sweep_of_an_unknown_format_is_refused(reference, tmp_path):
    directory = _copy_of(reference, tmp_path)
    header = json.loads((directory / "sweep.json").read_text())
    (directory / "sweep.json").write_text(json.dumps({**header, "format": 99}))
    for attempt in (lambda: load_sweep(directory), lambda: sweep(BASE, AXES, directory, progress=False)):
        with pytest.raises(ValueError, match=r"sweep\.json: sweep format 99, this library reads 1, 2"):
            attempt()


@pytest.mark.parametrize("damage", ["swapped", "truncated", "empty", "edited counts"])
def test_a_damaged_cell_is_named_on_load_and_recomputed_on_resume(damage, reference, tmp_path, capsys):
    from wideDIP._cli import main

    directory = _copy_of(reference, tmp_path)
    first, second = directory / "cells" / "cell-0-0.json", directory / "cells" / "cell-1-1.json"
    damaged = [first]
    if damage == "swapped":
        first_text = first.read_text()
        first.write_text(second.read_text())
        second.write_text(first_text)
        damaged.append(second)
        problem = "records the cell"
    elif damage == "truncated":
        first.write_text(first.read_text()[:40])
        problem = "not valid JSON"
    elif damage == "empty":
        first.write_text("")
        problem = "not valid JSON"
    else:
        record = json.loads(first.read_text())
        record["statistics"]["counts"]["converged"] += 1
        first.write_text(json.dumps(record))
        problem = "inconsistent"
    with pytest.raises(ValueError, match=rf"cell-[01]-[01]\.json: .*{problem}"):
        load_sweep(directory)
    with pytest.raises(SystemExit) as exit_info:
        main(["plot", str(directory)])
    assert exit_info.value.code == 2 and problem in capsys.readouterr().err
    with pytest.warns(UserWarning, match=problem):
        resumed = sweep(BASE, AXES, directory, progress=False)
    assert sorted(p.name for p in (directory / "cells").glob("*.damaged")) == sorted(
        p.name + ".damaged" for p in damaged
    )
    _assert_same_cells(resumed, reference)
    _assert_same_cells(load_sweep(directory), reference)


def test_sigint_keeps_every_finished_cell_and_prints_the_resume_command(reference, tmp_path):
    """Ctrl-C during `widedip sweep`: exit 130, one line (no traceback) with what was kept and the
    exact command that resumes; that command then ends equal to an uninterrupted sweep."""
    import shlex

    from wideDIP._cli import main

    out = tmp_path / "interrupted"
    options = [
        "--k",
        "8",
        "40",
        "--n",
        "6",
        "30",
        "--m",
        "4",
        "--d",
        "6",
        "--seeds",
        "6",
        "--steps",
        "1500",
        "--operator-scale",
        "sqrt_n",
        "--step-size",
        "2",
        "--threshold",
        "1e-5",
        "--workers",
        "1",
        "--out",
        str(out),
        "--quiet",
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "wideDIP", "sweep", "fig1-quick", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cells = out / "cells"
    deadline = time.time() + 120
    while time.time() < deadline and not (cells.exists() and any(cells.glob("cell-*.json"))):
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    message = err.strip().splitlines()[-1]
    saved = len(list(cells.glob("cell-*.json")))
    assert 1 <= saved < 4, "the interrupt must land in the middle of the sweep"
    assert f"interrupted: {saved} finished cell(s) are saved in {out}; resume with: widedip sweep" in message
    command = shlex.split(message.split("resume with: ", 1)[1])
    assert command[:3] == ["widedip", "sweep", "fig1-quick"] and command[-1] == "--resume"
    assert main(command[1:]) == 0
    _assert_same_cells(load_sweep(out), reference)
