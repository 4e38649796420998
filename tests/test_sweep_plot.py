"""The phase diagram as a paper would print it (docs/theory.md §6): each cell's colour and printed
value are the stored statistic, the title names the settings the grid holds fixed, the stability
marker and Theorem 2.1(ii)'s curve appear only where they say something, panels share one colour
scale, and the files are written."""

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.image import imread

from wideDIP import Config, load_sweep, sweep
from wideDIP._figures.plots import PRINT_DPI
from wideDIP._figures.sweep_plot import UNSTABLE_LABEL

BASE = Config(m=4, n=300, d=6, seeds=4, steps=300, operator_scale="sqrt_n", step_size=2.0, threshold=1e-5)
AXES = {"k": [40], "m": [2, 4], "seed": [0, 1]}  # rows, columns, panels: one compiled batch (m is padded)
THEORY_LABEL = "Theorem 2.1(ii): width that suffices"


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    return sweep(BASE, AXES, tmp_path_factory.mktemp("grid"), progress=False)


@pytest.fixture(scope="module")
def figure(grid):
    return grid.plot()


def _panels(figure):
    return [axes for axes in figure.axes if axes.collections and axes.get_label() != "<colorbar>"]


def _legend_texts(figure) -> list[str]:
    return [text.get_text() for legend in figure.legends for text in legend.get_texts()]


def _cell_texts(axes, result) -> dict[tuple[int, int], str]:
    """The values written in the cells, by (row, column), from the text artists' positions."""
    rows, columns = result.axes["k"], result.axes["m"]
    found = {}
    for text in axes.texts:
        if text.get_gid() == "cell value":
            x, y = text.get_position()
            found[rows.index(int(round(y))), columns.index(int(round(x)))] = text.get_text()
    return found


def test_each_cell_shows_the_stored_frequency_as_colour_and_as_text(grid, figure):
    assert 0 < grid.frequency.mean() < 1
    panels = _panels(figure)
    assert len(panels) == 2
    for p, axes in enumerate(panels):
        stored = grid.frequency[:, :, p]
        colours = np.asarray(axes.collections[0].get_array()).reshape(stored.shape)
        np.testing.assert_array_equal(colours, stored)
        texts = _cell_texts(axes, grid)
        assert set(texts) == {(0, 0), (0, 1)}
        for (i, j), text in texts.items():
            value, seeds = text.split("\n")
            assert float(value) == pytest.approx(stored[i, j], abs=0.005) and seeds == "4 seeds"  # 4 < 50 seeds
    for axes in panels:  # white on viridis' dark end, black on its bright end
        for text in axes.texts:
            if text.get_gid() == "cell value":
                value = float(text.get_text().split("\n")[0])
                if value <= 0.3 or value >= 0.6:
                    assert text.get_color() == ("white" if value <= 0.3 else "black")


def test_values_can_be_switched_off_also_from_the_command_line(grid, tmp_path, monkeypatch):
    from wideDIP._cli import main
    from wideDIP._figures import sweep_plot as _sweep_plot

    assert not any(text.get_gid() == "cell value" for axes in grid.plot(values=False).axes for text in axes.texts)
    drawn = []
    original = _sweep_plot.plot_sweep
    monkeypatch.setattr(_sweep_plot, "plot_sweep", lambda *args, **kwargs: drawn.append(original(*args, **kwargs)))
    assert main(["plot", str(grid.path), "--no-values", "--figure", str(tmp_path / "bare.png")]) == 0
    assert main(["plot", str(grid.path), "--figure", str(tmp_path / "valued.png")]) == 0
    counts = [sum(text.get_gid() == "cell value" for axes in f.axes for text in axes.texts) for f in drawn]
    assert counts == [0, 4]


def test_the_title_names_the_fixed_settings_and_the_panels_their_own(grid, figure):
    title = figure.get_suptitle().replace("\n", " ")
    # every field of BASE that differs from Config() and is no axis: n, d, seeds, steps, η, scale, threshold
    for words in (
        "n = 300",
        "d = 6",
        "4 seeds",
        "300 steps",
        "η = 2",
        "A: gaussian N(0,1/n)",
        "threshold 1e-05",
        "gradient descent",
        "two-layer network",
        "φ = sigmoid",
        "float32",
    ):
        assert words in title
    assert "m = " not in title and "k = 40" in title  # an axis, and one with one value: a fixed setting
    assert [axes.get_title() for axes in _panels(figure)] == ["root seed 0", "root seed 1"]
    assert [_panels(figure)[0].get_xlabel(), _panels(figure)[0].get_ylabel()] == ["observations m", "width k"]


def test_fields_that_differ_from_the_defaults_are_named_where_they_matter():
    from wideDIP._figures.captions import settings

    descent = settings(Config(signal="rademacher", seed=3, noise=0.1, condition_number=30.0), hidden=["k"])
    for words in ("x̄: rademacher", "root seed 3", "noise σ = 0.1", "η = 1", "25000 steps", "n = 100", "m = 10"):
        assert words in descent
    assert not any("rtol" in words or "κ" in words or "k = " in words for words in descent)  # descent, gaussian A
    flow = settings(Config(method="flow", rtol=1e-9, t_max=50.0, operator="conditioned", condition_number=30.0))
    for words in (
        "gradient flow",
        "solver auto",
        "rtol 1e-09",
        "horizon t = 50",
        "A: conditioned, κ(A) = 30, ‖A‖ = √n + √m",
        "k = 500",
    ):
        assert words in flow
    assert not any(words.startswith("η") or words.endswith("steps") for words in flow)


def test_the_printed_table_names_the_fixed_settings(grid):
    from wideDIP._cli import sweep_summary

    fixed, header = sweep_summary(grid).splitlines()[:2]
    assert fixed.startswith("fixed: ") and "n = 300" in fixed and "d = 6" in fixed and "4 seeds" in fixed
    assert "m = " not in fixed and "root seed" not in fixed and "k = 40" in fixed
    assert header.split()[:3] == ["k", "/", "m,"]


def _with_unstable(result, unstable: np.ndarray):
    """`result` with `unstable_fraction` 1 where `unstable`, else 0."""
    cells = np.empty(result.shape, dtype=object)
    for index in np.ndindex(result.shape):
        cells[index] = {**result.cells[index], "unstable_fraction": float(unstable[index])}
    return dataclasses.replace(result, cells=cells)


def _unstable_markers(figure) -> list[np.ndarray]:
    return [
        np.concatenate(
            [c.get_offsets() for c in axes.collections if c.get_label() == UNSTABLE_LABEL] or [np.empty((0, 2))]
        )
        for axes in _panels(figure)
    ]


def test_the_stability_marker_appears_only_where_it_varies(grid):
    everywhere = _with_unstable(grid, np.ones(grid.shape, bool)).plot()
    assert all(len(markers) == 0 for markers in _unstable_markers(everywhere))
    assert UNSTABLE_LABEL not in _legend_texts(everywhere)
    assert all(len(markers) == 0 for markers in _unstable_markers(grid.plot()))  # no cell unstable
    one = np.zeros(grid.shape, bool)
    one[0, 0, 1] = True  # k = 40, m = 2, second panel
    varying = _with_unstable(grid, one).plot()
    first, second = _unstable_markers(varying)
    assert len(first) == 0 and len(second) == 1
    ((x, y),) = second
    assert 2 / np.sqrt(2) < x < np.sqrt(2 * 4) and 40 / np.e**0.5 < y < 40 * np.e**0.5  # in the cell m = 2 (log edges)
    assert UNSTABLE_LABEL in _legend_texts(varying)


def test_the_theory_curve_is_drawn_only_on_the_chart_else_a_note_gives_its_values(grid, figure):
    assert THEORY_LABEL not in _legend_texts(figure)  # k ≤ 40, the bound is ~1e8 and more
    for axes in _panels(figure):
        notes = [text.get_text() for text in axes.texts if text.get_gid() == "theory note"]
        assert len(notes) == 1 and "above the chart" in notes[0] and "at m = 2" in notes[0]
        assert not any(THEORY_LABEL == line.get_label() for line in axes.lines)
    tall = dataclasses.replace(
        grid,
        axes={**grid.axes, "k": [1, 10**12]},  # the same cells twice, k from 1 to 1e12
        cells=np.concatenate([grid.cells, grid.cells]),
    )
    drawn = tall.plot()
    assert THEORY_LABEL in _legend_texts(drawn)
    for axes in _panels(drawn):
        assert sum(line.get_label() == THEORY_LABEL for line in axes.lines) == 2  # a white dash on a black line
        assert not any(text.get_gid() == "theory note" for text in axes.texts)


@pytest.mark.parametrize("statistic", ["frequency", "median_final_loss"])
def test_panels_share_one_colour_bar_and_one_scale(grid, statistic):
    drawn = grid.plot(statistic=statistic)
    panels = _panels(drawn)
    assert len(drawn.axes) == len(panels) + 1  # one colour bar
    values = grid.statistic(statistic)
    if statistic == "frequency":
        expected = (0, 1)
    else:  # the whole grid's range, which neither panel's own range is
        expected = (np.nanmin(values), np.nanmax(values))
        assert np.nanmax(values[:, :, 0]) != np.nanmax(values[:, :, 1])
    for axes in panels:
        assert axes.collections[0].get_clim() == pytest.approx(expected)


def test_png_at_print_resolution_and_vector_pdf(grid, tmp_path):
    drawn = grid.plot(tmp_path / "phase")
    width, height = drawn.get_size_inches()
    assert imread(tmp_path / "phase.png").shape[:2] == (round(height * PRINT_DPI), round(width * PRINT_DPI))
    assert (tmp_path / "phase.pdf").read_bytes()[:5] == b"%PDF-"
    again = load_sweep(grid.path).plot(tmp_path / "small", formats=("png",), dpi=100)
    assert imread(tmp_path / "small.png").shape[1] == round(again.get_size_inches()[0] * 100)
    assert not (tmp_path / "small.pdf").exists()


def _with_frequency(result, frequency: np.ndarray, axes: dict | None = None):
    """`result` with these frequencies (shaped like the grid of `axes`, default its own)."""
    axes = axes or result.axes
    first = result.cells.flat[0]
    cells = np.empty(frequency.shape, dtype=object)
    for index in np.ndindex(frequency.shape):
        cells[index] = {**first, "frequency": float(frequency[index])}
    return dataclasses.replace(result, axes=axes, cells=cells)


def test_the_contour_lies_between_the_cell_centres_in_the_drawn_geometry(grid):
    """A step from 1 to 0 between m = 2 and m = 8 on a log axis: the 50 % line at their geometric
    mean 4, the midpoint of the drawn cells (not at 5, the midpoint of the values)."""
    from wideDIP._figures.sweep_plot import CONTOUR_LABEL

    axes = {"k": [10, 1000], "m": [2, 8], "seed": [0]}
    stepped = _with_frequency(grid, np.array([[[1.0], [0.0]], [[1.0], [0.0]]]), axes)
    (panel,) = _panels(stepped.plot())
    lines = [line for line in panel.lines if line.get_label() == CONTOUR_LABEL]
    assert len(lines) == 1
    x, y = lines[0].get_data()
    np.testing.assert_allclose(x, np.sqrt(2 * 8))
    np.testing.assert_allclose(sorted(y), [10, 1000])
    for text in panel.texts:  # the values stay legible where the line crosses them
        if text.get_gid() == "cell value":
            assert text.get_path_effects() and text.get_zorder() > lines[0].get_zorder()


def test_every_statistic_has_a_label_in_words():
    from wideDIP._analysis.statistics import PLOTTED_STATISTICS
    from wideDIP._figures.captions import STATISTIC_LABELS

    assert set(STATISTIC_LABELS) == set(PLOTTED_STATISTICS)
    assert all(" " in label and label != name for name, label in STATISTIC_LABELS.items())


def test_a_statistic_not_recorded_is_an_error_naming_what_it_needs(grid, tmp_path, capsys):
    from wideDIP._cli import main

    assert np.isnan(grid.certified_fraction).all()  # no track_ntk
    with pytest.raises(ValueError, match="'certified_fraction' was not recorded.*every cell NaN.*track_ntk=True"):
        grid.plot(statistic="certified_fraction")
    with pytest.raises(SystemExit) as exit:
        main(["plot", str(grid.path), "--statistic", "certified_fraction", "--figure", str(tmp_path / "x.png")])
    assert exit.value.code == 2 and "not recorded" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_a_statistic_over_many_decades_is_coloured_on_a_log_scale(grid):
    from matplotlib.colors import LogNorm

    spread = np.array([5e-8, 1.5e3, 1e-2, 1.0]).reshape(grid.shape)
    cells = np.empty(grid.shape, dtype=object)
    for index in np.ndindex(grid.shape):
        cells[index] = {**grid.cells[index], "median_final_loss": float(spread[index])}
    drawn = dataclasses.replace(grid, cells=cells).plot(statistic="median_final_loss")
    mesh = _panels(drawn)[0].collections[0]
    assert isinstance(mesh.norm, LogNorm) and mesh.get_clim() == pytest.approx((5e-8, 1.5e3))
    assert not isinstance(_panels(grid.plot())[0].collections[0].norm, LogNorm)  # frequency: 0 to 1


def test_the_median_steps_are_drawn_for_a_quartile_statistic(grid, tmp_path):
    from wideDIP._cli import main

    drawn = grid.plot(statistic="steps_to_threshold")
    median = grid.statistic("steps_to_threshold", "median")
    assert np.isfinite(median).any()
    for p, axes in enumerate(_panels(drawn)):
        colours = np.ma.filled(np.ma.asarray(axes.collections[0].get_array(), float), np.nan)
        np.testing.assert_array_equal(colours.reshape(median[:, :, p].shape), median[:, :, p])
    assert drawn.axes[-1].get_ylabel().startswith("median steps to the threshold")
    assert main(["plot", str(grid.path), "--statistic", "steps_to_threshold", "--figure", str(tmp_path / "s.png")]) == 0


def test_a_partial_sweep_says_so_and_marks_the_cells_not_run(grid, tmp_path, capsys):
    import shutil

    from wideDIP._cli import main
    from wideDIP._figures.sweep_plot import NOT_RUN_LABEL

    directory = tmp_path / "partial"
    shutil.copytree(grid.path, directory)
    (directory / "cells" / "cell-0-1-1.json").unlink()  # k = 40, m = 4, second panel: as after a kill
    partial = load_sweep(directory)
    assert partial.computed.sum() == 3
    drawn = partial.plot()
    assert "3 of 4 cells computed" in drawn.get_suptitle()
    first, second = _panels(drawn)
    assert not any(c.get_label() == NOT_RUN_LABEL for c in first.collections)
    (hatched,) = [c for c in second.collections if c.get_label() == NOT_RUN_LABEL]
    assert hatched.get_hatch() == "//" and np.ma.count(hatched.get_array()) == 1  # the one cell missing
    ((x, y),) = hatched.get_paths()[0].vertices.mean(axis=0, keepdims=True)
    assert x > np.sqrt(2 * 4) and 40 / np.e**0.5 < y < 40 * np.e**0.5  # in the cell m = 4
    assert NOT_RUN_LABEL in _legend_texts(drawn)
    assert "cells computed" not in grid.plot().get_suptitle()
    assert main(["plot", str(directory), "--figure", str(tmp_path / "partial.png")]) == 0
    (warning,) = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert "3 of 4 cells computed" in warning


def test_an_axis_with_one_value_is_named_as_fixed_and_the_note_says_it_once(grid):
    one_column = dataclasses.replace(grid, axes={**grid.axes, "m": [2]}, cells=grid.cells[:, :1])
    drawn = one_column.plot()
    title = drawn.get_suptitle().replace("\n", " ")
    assert "m = 2" in title and "k = 40" in title
    for axes in _panels(drawn):
        (note,) = [text.get_text() for text in axes.texts if text.get_gid() == "theory note"]
        assert note.count("m = 2") == 1 and "and k ≥" not in note


def test_the_title_says_in_words_what_no_stability_marker_shows_and_names_the_grid_and_preset(grid, monkeypatch):
    """`widedip sweep fig1-quick`: descent is beyond its stability limit in every cell, so no marker
    is drawn; the title says it in words (and that it is within it in every cell, the other case
    without markers), the grid's size, and the preset's name where the sweep is one."""
    from wideDIP import _presets

    def title(result) -> str:
        figure = result.plot()
        plt.close(figure)
        return figure.get_suptitle().replace("\n", " ")

    everywhere = title(_with_unstable(grid, np.ones(grid.shape, bool)))
    assert "descent beyond its stability limit in every cell (η·λmax(H(W(0))) > 2 for most seeds)" in everywhere
    assert "1 × 2 × 2 grid (k × m × seed)" in everywhere and "preset" not in everywhere
    assert "descent within its stability limit in every cell (η·λmax(H(W(0))) ≤ 2 for at least half" in title(grid)
    assert "in none" not in title(grid)  # the limit negated in words, not "> 2 ... in none"
    one = np.zeros(grid.shape, bool)
    one[0, 0, 1] = True
    assert "stability limit in every" not in title(_with_unstable(grid, one))  # the marker says it
    monkeypatch.setitem(_presets.PRESETS, "tiny", (BASE, AXES))
    assert "preset tiny, 1 × 2 × 2 grid (k × m × seed)" in title(load_sweep(grid.path))
    changed = title(dataclasses.replace(grid, base=BASE.replace(seeds=3, method="flow")))
    assert "preset tiny with seeds, method changed, 1 × 2 × 2 grid" in changed
    assert "preset" not in title(dataclasses.replace(grid, axes={**AXES, "seed": [0, 2]}))  # another grid


def test_the_title_names_the_network_that_ran_and_leaves_out_the_fields_it_does_not_read(grid):
    """A sweep of one's own network (`sweep(..., network=)`): its name, and no `k`, `φ` or
    "two-layer network", which it does not read; a directory keeps the name only."""
    own = dataclasses.replace(grid, network={"name": "tanh_skip", "config_fields": ["n", "d"]}).plot()
    plt.close(own)
    title = own.get_suptitle().replace("\n", " ")
    assert "network tanh_skip" in title and "n = 300" in title and "d = 6" in title
    assert "two-layer" not in title and "φ = " not in title and "k = 40" not in title
    assert "k = 40" in grid.plot().get_suptitle().replace("\n", " ")  # the paper's network reads k


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            dict(path="/nonexistent/dir/phase"),
            r"SweepResult\.plot: path: the folder '/nonexistent/dir' .* does not exist",
        ),
        (
            dict(path="phase", formats=("png", "xyz")),
            r"SweepResult\.plot: formats must be among .*pdf.*png.*; got 'xyz'",
        ),
        (dict(path="phase", formats="png"), r"SweepResult\.plot: formats must be a list of file formats"),
        (dict(dpi=0), r"SweepResult\.plot: dpi must be a positive number, got 0"),
    ],
)
def test_bad_figure_paths_are_value_errors_naming_the_argument(grid, tmp_path, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=message):
        grid.plot(**arguments)
    with pytest.raises(ValueError, match=message.replace("plot", "plot_recovery", 1)):
        grid.plot_recovery(**arguments)
    assert list(tmp_path.iterdir()) == []


def test_operators_are_described_in_words_not_internal_symbols():
    """Titles and summaries say what `A` is ("conditioned s=1/√n" named an internal `s`)."""
    from wideDIP._operators.registry import OPERATORS
    from wideDIP._resolve import operator_of

    def describe(config, parameters=True):
        return operator_of(config).describe(parameters)

    conditioned = Config(operator="conditioned", operator_scale="sqrt_n", condition_number=10.0)
    assert describe(conditioned) == "conditioned, κ(A) = 10, ‖A‖ = 1 + √(m/n)"
    assert describe(conditioned, parameters=False) == "conditioned, ‖A‖ = 1 + √(m/n)"  # κ on an axis
    assert describe(conditioned.replace(operator_scale="none")) == "conditioned, κ(A) = 10, ‖A‖ = √n + √m"
    assert describe(Config(operator="blur", blur_width=3.0)) == "Gaussian blur of width 3 samples"
    image = {"block_inpainting": dict(side=16, m=192)}  # it needs an image's shape
    for name in OPERATORS:
        assert not any(
            symbol in describe(Config(operator=name, **image.get(name, {}))) for symbol in ("s=", "w=", "1/√")
        )


def test_a_phrase_longer_than_a_line_is_broken_at_its_spaces():
    """A title's phrase wider than the figure (the stability sentence on a narrow grid) ran off its
    edge: it is broken at its spaces; shorter phrases are never split."""
    from wideDIP._figures.captions import wrapped

    long = "descent within its stability limit in every cell (η·λmax(H(W(0))) ≤ 2 for at least half the seeds)"
    lines = wrapped(["3 × 1 grid (k × n)", long, "m = 10"], 40).splitlines()
    assert all(len(line) <= 40 for line in lines)
    assert " ".join(lines).replace(", ", " ").split() == ("3 × 1 grid (k × n) " + long + " m = 10").split()
    assert wrapped(["k = 20", "n = 5"], 40) == "k = 20, n = 5"
