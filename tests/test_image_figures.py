"""The figures of a structured signal's run (docs/theory.md §12): the image grid (clean, observed,
best, at `T`, end) with the PSNR over time that `SimulationResult.plot` draws for an image or a 1-D
structured signal, and `plot_alignment`'s spectrum; each drawn array and number checked against the
result's own arrays and an independent PSNR."""

import dataclasses
import re

import numpy as np
import pytest

import wideDIP
from tests.test_plots import held_to_the_stop, labelled_line
from wideDIP import Config, simulate
from wideDIP._figures.images import COLUMNS, OBSERVED_LABEL, PSNR_LABEL

SIDE = 16
IMAGE = Config(
    signal="image",
    side=SIDE,
    operator="inpainting",
    m=128,
    network="conv_decoder",
    k=4,
    decoder_layers=2,
    seeds=2,
    steps=100,
    step_size=0.03,  # η λ_max(H(0)) about 1.3: within descent's stability limit
    noise=0.05,
    stop_at_threshold=False,
    alignment_rank=4,
    dtype="float64",
)


@pytest.fixture(scope="module")
def image_run():
    """A 16 × 16 inpainting by the convolutional decoder, with its alignment (2 seeds, 100 steps)."""
    return simulate(IMAGE, progress=False)


@pytest.fixture(scope="module")
def two_layer_run():
    """The same image and operator for the two-layer network, with its alignment."""
    return simulate(
        IMAGE.replace(network="two_layer", k=32, d=8, decoder_layers=Config.decoder_layers, steps=20), progress=False
    )


def psnr(values: np.ndarray, clean: np.ndarray) -> float:
    """The test's own PSNR (docs/theory.md §12): `peak = max x̄ − min x̄`."""
    peak = clean.max() - clean.min()
    return float(10 * np.log10(peak**2 / np.mean((values - clean) ** 2)))


def decibels(title: str) -> float:
    """The PSNR a panel's title gives ("… 12.34 dB")."""
    return float(re.search(r"(-?[\d.]+) dB", title).group(1))


def grid_row(figure, seed: int) -> list:
    """The panels of seed `seed`'s row of the image grid, in the order of `COLUMNS`."""
    return figure.axes[seed * len(COLUMNS) : (seed + 1) * len(COLUMNS)]


def note(axes) -> str:
    """The words written across a blank panel, on one line."""
    (text,) = axes.texts
    return " ".join(text.get_text().split())


def first_at_or_after(times: np.ndarray, recorded: np.ndarray, moment: float) -> int | None:
    """The test's own: the first checkpoint at or after `moment` where `recorded` holds (None: none)."""
    later = [index for index, time in enumerate(times) if time >= moment and recorded[index]]
    return later[0] if later else None


def test_the_image_grid_draws_clean_observed_best_and_final_images_with_their_psnr(image_run, tmp_path):
    result = image_run
    figure = result.plot(tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 10_000
    assert len(figure.axes) == result.config.seeds * len(COLUMNS) + 1  # every seed's row, then the PSNR
    for seed in range(result.config.seeds):
        clean_image = result.signal[seed].reshape(SIDE, SIDE)
        clean, observed, best, at_stop, end = grid_row(figure, seed)
        best_index = int(np.nanargmax(result.psnr[seed]))
        assert result.psnr[seed, best_index] > result.psnr[seed, 0]  # the best is not the start: the test has power
        expected = {
            observed: (result.back_projection[seed], result.observed_psnr[seed]),
            best: (result.reconstructions[seed, best_index], result.best_psnr[seed]),
            end: (result.final_reconstruction[seed], result.final_psnr[seed]),
        }
        for axes in (clean, *expected):
            (image,) = axes.images
            assert image.get_cmap().name == "gray" and image.get_clim() == (clean_image.min(), clean_image.max())
        np.testing.assert_array_equal(clean.images[0].get_array(), clean_image)
        for axes, (values, value) in expected.items():
            drawn = np.asarray(axes.images[0].get_array())
            np.testing.assert_array_equal(drawn, values.reshape(SIDE, SIDE))
            assert decibels(axes.get_title()) == pytest.approx(value, abs=0.005)
            assert decibels(axes.get_title()) == pytest.approx(psnr(drawn, clean_image), abs=0.005)
        assert f"t = {result.times[best_index]:.3g}" in best.get_title()
        assert result.early_stopping_time[seed] > result.stop_time[seed]  # the decoder's σ_0 is tiny: T is far
        assert len(at_stop.images) == 0 and note(at_stop) == (
            f"T = {result.early_stopping_time[seed]:.3g} not reached: the run stopped at t = {result.stop_time[seed]:.3g}"
        )


def test_the_psnr_panel_draws_the_held_median_its_quartiles_and_the_markers(image_run):
    result = image_run
    panel = result.plot().axes[-1]
    times, curves = held_to_the_stop(result, "psnr", "final_psnr")
    shown = times > 0
    x, y = labelled_line(panel, PSNR_LABEL).get_data()
    np.testing.assert_array_equal(x, times[shown])
    np.testing.assert_allclose(y, np.median(curves, axis=0)[shown], rtol=1e-12)
    vertices = panel.collections[0].get_paths()[0].vertices
    low, high = np.percentile(curves[:, shown], [25, 75], axis=0)
    for time, lowest, highest in zip(times[shown], low, high):
        at = vertices[vertices[:, 0] == time, 1]
        np.testing.assert_allclose([at.min(), at.max()], [lowest, highest], rtol=1e-12)
    np.testing.assert_allclose(labelled_line(panel, OBSERVED_LABEL).get_ydata(), np.median(result.observed_psnr))
    (best,) = [line for line in panel.lines if line.get_label().startswith("best PSNR time")]
    np.testing.assert_allclose(best.get_xdata(), np.median(result.best_psnr_time))
    legend = [text.get_text() for text in panel.get_legend().get_texts()]
    finite = np.isfinite(result.early_stopping_time)
    (marker,) = [entry for entry in legend if entry.startswith("T ")]
    assert marker.endswith(f"finite for {finite.sum()}/{finite.size} seeds")
    assert "all 2 seeds" in panel.get_title()


def test_the_at_T_panel_shows_the_first_checkpoint_at_or_after_T_or_says_why_not(image_run, two_layer_run):
    """Seed 0 with `T` between two checkpoints: its reconstruction at the next one; seed 1 with `T`
    after the run: a blank panel saying so; an infinite `T` (the two-layer network with k < n): why."""
    result = image_run
    moment = 0.5 * (result.times[10] + result.times[11])
    early = np.array([moment, 2 * result.times[-1]])
    recorded = ~np.isnan(result.psnr[0])
    index = first_at_or_after(result.times, recorded, moment)
    assert index == 11
    changed = dataclasses.replace(
        result, early_stopping_time=early, psnr_at_early_stop=np.array([result.psnr[0, index], np.nan])
    )
    figure = changed.plot()
    at_stop = grid_row(figure, 0)[3]
    drawn = np.asarray(at_stop.images[0].get_array())
    np.testing.assert_array_equal(drawn, result.reconstructions[0, index].reshape(SIDE, SIDE))
    assert at_stop.get_title().startswith(f"{COLUMNS[3]} = {moment:.3g}")
    assert decibels(at_stop.get_title()) == pytest.approx(psnr(drawn, result.signal[0].reshape(SIDE, SIDE)), abs=0.005)
    blank = grid_row(figure, 1)[3]
    assert len(blank.images) == 0
    assert note(blank) == (f"T = {early[1]:.3g} not reached: the run stopped at t = {result.stop_time[1]:.3g}")
    assert not np.isfinite(two_layer_run.early_stopping_time[0])
    infinite = grid_row(two_layer_run.plot(), 0)[3]
    assert len(infinite.images) == 0
    assert note(infinite) == f"no T: {two_layer_run.early_stopping_reason[0]}"


def test_a_1d_structured_signal_is_drawn_as_lines_and_a_random_law_keeps_the_run_figure():
    """A Donoho–Johnstone signal: the same grid, as lines over the sample index; a Gaussian `x̄` (with
    its PSNR recorded) has no structure to show: `plot` draws the loss and error curves."""
    result = simulate(
        Config(signal="blocks", n=64, m=32, operator="inpainting", k=64, d=8, seeds=2, steps=40, dtype="float64"),
        progress=False,
    )
    figure = result.plot()
    assert len(figure.axes) == 2 * len(COLUMNS) + 1
    for seed in range(2):
        clean, _, best, _, end = grid_row(figure, seed)
        (line,) = clean.lines
        np.testing.assert_array_equal(line.get_ydata(), result.signal[seed])
        best_index = int(np.nanargmax(result.psnr[seed]))
        for axes, values in (
            (best, result.reconstructions[seed, best_index]),
            (end, result.final_reconstruction[seed]),
        ):
            behind, drawn = axes.lines  # x̄ in grey, the reconstruction over it
            np.testing.assert_array_equal(behind.get_ydata(), result.signal[seed])
            np.testing.assert_array_equal(drawn.get_ydata(), values)
            np.testing.assert_array_equal(drawn.get_xdata(), np.arange(64))
            assert decibels(axes.get_title()) == pytest.approx(psnr(values, result.signal[seed]), abs=0.005)
    gaussian = simulate(Config(side=SIDE, operator="inpainting", m=128, k=8, d=4, seeds=2, steps=5), progress=False)
    assert gaussian.psnr is not None
    figure = gaussian.plot()
    labelled_line(figure.axes[0], "loss ½‖A g − y‖²")
    assert all(len(axes.images) == 0 for axes in figure.axes)


def test_a_result_saved_without_its_reconstructions_still_draws_its_grid(image_run):
    """The best and final reconstructions are saved with every result: only the panel at `T` needs
    `x(t)` at the checkpoints, and says so."""
    finite = np.full(image_run.config.seeds, image_run.times[5])
    full = dataclasses.replace(image_run, early_stopping_time=finite)
    saved_without = dataclasses.replace(full, reconstructions=None)
    with_all, without = (result.plot() for result in (full, saved_without))
    for seed in range(image_run.config.seeds):
        *kept, at_stop, end = grid_row(without, seed)
        *expected, _, expected_end = grid_row(with_all, seed)
        for axes, reference in zip((*kept, end), (*expected, expected_end)):
            np.testing.assert_array_equal(axes.images[0].get_array(), reference.images[0].get_array())
            assert axes.get_title() == reference.get_title()
        assert not at_stop.images and "not saved" in at_stop.texts[0].get_text()


def test_the_alignment_spectrum_draws_the_median_energies_and_eigenvalues(image_run, two_layer_run, tmp_path):
    results = [two_layer_run, image_run]
    labels = ["two-layer", "decoder"]
    figure = wideDIP.plot_alignment(results, tmp_path / "alignment.pdf", labels=labels)
    assert (tmp_path / "alignment.pdf").stat().st_size > 5_000
    energies, eigenvalues, legend = figure.axes
    assert energies.get_yscale() == "log" and eigenvalues.get_yscale() == "log"
    for index, (result, label) in enumerate(zip(results, labels)):
        alignment = result.alignment
        signal, noise = energies.lines[2 * index : 2 * index + 2]
        np.testing.assert_array_equal(signal.get_xdata(), [1, 2, 3, 4])
        np.testing.assert_allclose(signal.get_ydata(), np.median(alignment["signal_energy"], axis=0), rtol=1e-12)
        np.testing.assert_allclose(noise.get_ydata(), np.median(alignment["noise_energy"], axis=0), rtol=1e-12)
        assert (
            signal.get_label().startswith(label)
            and f"{np.median(alignment['signal_alignment']):.3g}" in signal.get_label()
        )
        assert f"{np.median(alignment['noise_alignment']):.3g}" in noise.get_label()
        np.testing.assert_allclose(
            eigenvalues.lines[index].get_ydata(), np.median(alignment["eigenvalues"], axis=0), rtol=1e-12
        )
    assert not np.allclose(energies.lines[0].get_ydata(), energies.lines[2].get_ydata())  # two different networks
    assert [text.get_text() for text in legend.get_legend().get_texts()] == [
        line.get_label() for line in energies.lines
    ]


def test_plot_alignment_refuses_what_it_cannot_draw(image_run, tmp_path):
    without = dataclasses.replace(image_run, alignment=None)
    with pytest.raises(ValueError, match=r"plot_alignment: results\[1\] has no alignment: .*Config\.alignment_rank"):
        wideDIP.plot_alignment([image_run, without])
    with pytest.raises(ValueError, match="plot_alignment: labels must be 2 strings, one per result"):
        wideDIP.plot_alignment([image_run, image_run], labels=["one"])
    with pytest.raises(ValueError, match="plot_alignment: results must be a SimulationResult or a list of them"):
        wideDIP.plot_alignment("result.npz")
    with pytest.raises(ValueError, match=r"plot_alignment: path: '.*out\.xyz' must end in one of"):
        wideDIP.plot_alignment(image_run, tmp_path / "out.xyz")
    assert list(tmp_path.iterdir()) == []
