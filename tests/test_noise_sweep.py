"""Sweeps over the noise level (docs/theory.md §7): the recovery statistics of a cell, an axis
holding 0, one-axis sweeps drawn as lines with Wilson intervals, the recovery figure, cell files
written before these statistics existed, the noise presets and their command."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from wideDIP import Config, load_sweep, preset, simulate, sweep
from wideDIP._analysis.statistics import QUARTILE_STATISTICS, QUARTILES, SCALAR_STATISTICS
from wideDIP._cli import main
from wideDIP._figures.sweep_plot import axis_scale
from wideDIP._presets import WIDTHS
from wideDIP._results.sweep import cell_statistics

# test_plots.py's shape: its runs (without noise and with) are the cells k = 40 simulated alone
BASE = Config(m=5, n=20, d=10, k=40, seeds=6, steps=300, stop_at_threshold=False, dtype="float64")
AXES = {"k": [20, 40], "noise": [0.0, 0.3]}


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    return sweep(BASE, AXES, tmp_path_factory.mktemp("noisy"), progress=False)


@pytest.fixture(scope="module")
def direct():
    """Each cell of `noisy`, simulated on its own."""
    return {
        (i, j): simulate(BASE.replace(k=k, noise=noise), progress=False)
        for i, k in enumerate(AXES["k"])
        for j, noise in enumerate(AXES["noise"])
    }


def test_noise_statistics_are_those_of_the_cell_simulated_alone(noisy, direct):
    for (i, j), result in direct.items():
        assert noisy.median_best_signal_error[i, j] == pytest.approx(np.median(result.best_signal_error), rel=1e-6)
        assert noisy.median_final_signal_error[i, j] == pytest.approx(np.median(result.final_signal_error), rel=1e-6)
        at_stop = result.signal_error_at_early_stop[np.isfinite(result.signal_error_at_early_stop)]
        assert noisy.median_signal_error_at_early_stop[i, j] == pytest.approx(
            np.median(at_stop) if at_stop.size else np.nan, rel=1e-6, nan_ok=True
        )
        checked = [holds for holds in result.bound_holds if holds is not None]
        assert noisy.statistic("bound_checked")[i, j] == len(checked)
        assert noisy.bound_holds_fraction[i, j] == pytest.approx(np.mean(checked) if checked else np.nan, nan_ok=True)
        over_noise = np.median(result.final_observation_error / result.noise_norm) if AXES["noise"][j] > 0 else np.nan
        assert noisy.median_final_error_over_noise[i, j] == pytest.approx(over_noise, rel=1e-6, nan_ok=True)
    # some seeds of this cell reach T and some do not: the median is over those that do
    assert 0 < np.isfinite(direct[1, 1].signal_error_at_early_stop).sum() < BASE.seeds
    assert np.isfinite(noisy.median_final_error_over_noise[:, 1]).all()


def test_noise_free_cells_have_no_noise_statistics(noisy):
    for i in range(len(AXES["k"])):
        cell = noisy.cells[i, 0]
        assert cell["median_final_error_over_noise"] is None and cell["median_signal_error_at_early_stop"] is None
        assert cell["bound_holds_fraction"] is None and cell["bound_checked"] == 0
        assert np.isfinite(cell["median_best_signal_error"])  # the best point of the path exists without noise
    assert noisy.noisy and not dataclasses.replace(noisy, axes={"k": [20, 40], "noise": [0.0]}).noisy


def test_bound_statistics_count_the_checked_seeds_only(direct):
    holds = np.array([True, None, False, True, None, True], dtype=object)
    statistics = cell_statistics(dataclasses.replace(direct[1, 1], bound_holds=holds))
    assert statistics["bound_checked"] == 4 and statistics["bound_holds_fraction"] == 0.75
    unchecked = cell_statistics(dataclasses.replace(direct[1, 1], bound_holds=np.full(6, None, dtype=object)))
    assert unchecked["bound_checked"] == 0 and unchecked["bound_holds_fraction"] is None
    assert {name for name, value in statistics.items() if not isinstance(value, (list, dict))} == set(SCALAR_STATISTICS)
    assert {
        name for name, value in statistics.items() if isinstance(value, dict) and list(value) == list(QUARTILES)
    } == set(QUARTILE_STATISTICS)


@pytest.mark.parametrize(
    "values, scale",
    [
        (WIDTHS, "log"),
        ([0.01, 0.03, 0.1, 0.3, 1.0], "log"),
        ([8, 40], "log"),
        ([0.0, 0.01, 0.03, 0.1, 0.3, 1.0], "categorical"),
        ([0.0, 0.1, 1.0], "categorical"),
        ([0.0, 0.1, 0.3], "linear"),
        ([100, 200, 300, 400], "linear"),
        ([40, 20], "categorical"),
        (["descent", "flow"], "categorical"),
        ([True, False], "categorical"),
    ],
)
def test_axis_scale(values, scale):
    assert axis_scale(values) == scale


def test_a_noise_axis_holding_zero_draws_a_heatmap_of_any_statistic(noisy, tmp_path):
    figure = noisy.plot(tmp_path / "phase")
    assert (tmp_path / "phase.png").stat().st_size > 10_000 and (tmp_path / "phase.pdf").exists()
    axes = figure.axes[0]
    np.testing.assert_array_equal(np.asarray(axes.collections[0].get_array()).reshape(noisy.shape), noisy.frequency)
    assert axes.get_xscale() == "linear" and axes.get_yscale() == "log"  # noise 0, 0.3; the widths stay on log
    assert [tick.get_text() for tick in axes.get_xticklabels()] == ["0", "0.3"]
    figure = noisy.plot(tmp_path / "best", statistic="median_best_signal_error")
    colours = np.asarray(figure.axes[0].collections[0].get_array()).reshape(noisy.shape)
    np.testing.assert_array_equal(colours, noisy.median_best_signal_error)
    with pytest.raises(ValueError, match=r"statistic must be one of \('frequency', .*got 'median_error'"):
        noisy.plot(statistic="median_error")


def _wilson(p: np.ndarray, seeds: int, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval, from its textbook form."""
    centre = (p + z**2 / (2 * seeds)) / (1 + z**2 / seeds)
    half = z / (1 + z**2 / seeds) * np.sqrt(p * (1 - p) / seeds + z**2 / (4 * seeds**2))
    return centre - half, centre + half


def test_one_numeric_axis_draws_frequency_lines_with_wilson_intervals(tmp_path):
    """k × stop_at_threshold: lines over k (log), one per stop_at_threshold value."""
    result = sweep(BASE.replace(noise=0.3), {"k": [20, 40], "stop_at_threshold": [False, True]}, progress=False)
    figure = result.plot(tmp_path / "lines")
    assert (tmp_path / "lines.png").exists()
    axes = figure.axes[0]
    assert axes.get_xscale() == "log" and len(axes.containers) == 2
    assert [text.get_text() for text in axes.get_legend().get_texts()] == [
        "stop_at_threshold=False",
        "stop_at_threshold=True",
    ]
    for line, container in enumerate(axes.containers):
        data, _, (bars,) = container.lines
        frequency = result.frequency[:, line]
        np.testing.assert_array_equal(data.get_xdata(), [20, 40])
        np.testing.assert_array_equal(data.get_ydata(), frequency)
        low, high = _wilson(frequency, BASE.seeds)
        segments = np.array(bars.get_segments())  # [point, (lower end, upper end), (x, y)]
        np.testing.assert_allclose(segments[:, 0, 1], low, atol=1e-12)
        np.testing.assert_allclose(segments[:, 1, 1], high, atol=1e-12)
        assert np.all(high - low > 0.2)  # 6 seeds: wide, also where the frequency is 0 or 1


def test_the_recovery_figure_shows_best_and_final_signal_errors(noisy, tmp_path):
    figure = noisy.plot_recovery(tmp_path / "recovery")
    assert (tmp_path / "recovery.png").exists() and (tmp_path / "recovery.pdf").exists()
    axes = figure.axes[0]
    ratio = np.asarray(axes.collections[0].get_array()).reshape(noisy.shape)
    np.testing.assert_allclose(ratio, noisy.median_best_signal_error / noisy.median_final_signal_error)
    assert np.all(ratio <= 1)
    assert f"{noisy.median_best_signal_error[0, 1]:.3g}\n{noisy.median_final_signal_error[0, 1]:.3g}" in [
        text.get_text() for text in axes.texts
    ]
    column = dataclasses.replace(
        noisy,
        axes={"k": AXES["k"]},
        cells=noisy.cells[:, 1],
        wall_time=noisy.wall_time[:, 1],
        base=BASE.replace(noise=0.3),
    )
    lines = column.plot_recovery(tmp_path / "recovery-lines").axes[0].containers
    np.testing.assert_array_equal(lines[0].lines[0].get_ydata(), noisy.median_final_signal_error[:, 1])
    np.testing.assert_array_equal(lines[1].lines[0].get_ydata(), noisy.median_best_signal_error[:, 1])


def test_a_cell_written_before_the_noise_statistics_loads_and_is_kept(noisy, tmp_path):
    directory = Path(shutil.copytree(noisy.path, tmp_path / "old"))
    cell = directory / "cells" / "cell-1-1.json"
    record = json.loads(cell.read_text())
    statistics = record["statistics"]
    for name in (
        "median_best_signal_error",
        "median_signal_error_at_early_stop",
        "bound_holds_fraction",
        "bound_checked",
        "median_final_error_over_noise",
    ):
        del statistics[name]
    statistics["median_signal_error"] = statistics.pop("median_final_signal_error")  # its former name
    cell.write_text(json.dumps(record))
    written = cell.stat().st_mtime_ns
    for result in (load_sweep(directory), sweep(BASE, AXES, directory, progress=False)):
        for name in ("median_final_signal_error", "median_signal_error"):
            assert result.statistic(name)[1, 1] == noisy.median_final_signal_error[1, 1]
        assert np.isnan(result.median_best_signal_error[1, 1]) and np.isnan(result.median_final_error_over_noise[1, 1])
        np.testing.assert_array_equal(result.median_best_signal_error[0], noisy.median_best_signal_error[0])
        np.testing.assert_array_equal(result.frequency, noisy.frequency)
        result.plot_recovery(tmp_path / "recovery")
    assert cell.stat().st_mtime_ns == written  # kept, not computed again


def test_noise_presets():
    base, axes = preset("noise")
    assert (
        base.m,
        base.n,
        base.d,
        base.activation,
        base.method,
        base.step_size,
        base.threshold,
        base.steps,
        base.seeds,
        base.stop_at_threshold,
    ) == (10, 100, 500, "sigmoid", "descent", 1.0, 1e-7, 25000, 50, False)
    assert axes == {"k": [10, 20, 50, 100, 200, 500, 1000], "noise": [0.0, 0.01, 0.03, 0.1, 0.3, 1.0]}
    base, axes = preset("noise-quick")
    assert (base.seeds, base.steps, base.stop_at_threshold) == (20, 5000, False)
    assert axes == {"k": [20, 100, 500], "noise": [0.0, 0.1, 1.0]}


def test_cli_noise_sweep_prints_the_signal_errors_and_draws_both_figures(noisy, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "noise-quick", "--help"])
    assert (
        exit_info.value.code == 0 and "grid (an axis of this preset); default: 0.0 0.1 1.0" in capsys.readouterr().out
    )
    out = tmp_path / "noise"
    assert (
        main(
            [
                "sweep",
                "noise-quick",
                "--k",
                "20",
                "40",
                "--noise",
                "0",
                "0.3",
                "--m",
                "5",
                "--n",
                "20",
                "--d",
                "10",
                "--seeds",
                "6",
                "--steps",
                "300",
                "--dtype",
                "float64",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    for name in ("figure", "recovery"):
        assert (out / f"{name}.png").stat().st_size > 10_000 and (out / f"{name}.pdf").exists()
    assert f"{out / 'recovery.png'}" in printed
    for which, values in (
        ("best along the path", noisy.median_best_signal_error),
        ("final", noisy.median_final_signal_error),
    ):
        table = printed.split(f"median signal error ||x - x_bar||/||x_bar||, {which}:\n", 1)[1].splitlines()
        assert table[0].split() == ["k", "/", "noise", "0.0", "0.3"]
        for row, k, expected in zip(table[1:3], AXES["k"], values):
            assert row.split() == [str(k)] + [f"{v:.3g}" for v in expected]
    assert (
        main(["plot", str(out), "--statistic", "median_final_signal_error", "--figure", str(tmp_path / "f.png")]) == 0
    )
    assert (tmp_path / "f.png").exists()
