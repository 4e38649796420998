"""Figures of a run (`SimulationResult.plot`, `plot_ntk`): every median is over all seeds, a
stopped seed held at its final value from its stop time on; the Theorem 2.1 envelope stays within
the loss' range."""

import dataclasses

import numpy as np
import pytest

import wideDIP
from wideDIP import Config, simulate
from wideDIP._plots import held

SMALL = Config(m=5, n=20, d=10, k=40, seeds=6, steps=300, dtype="float64")
CURVES = {  # panel of `plot`: the label of each median line, the result's field it draws and its final value
    0: {"loss ½‖A g − y‖²": ("loss", "final_loss")},
    1: {"‖y(t) − ȳ‖": ("observation_error", "final_observation_error")},
    2: {"‖x(t) − x̄‖ / ‖x̄‖": ("signal_error", "final_signal_error"),
        "row space  ‖P(x(t) − x̄)‖ / ‖x̄‖": ("signal_error_row_space", None),
        "kernel  ‖(I − P)(x(t) − x̄)‖ / ‖x̄‖": ("signal_error_kernel", None)},
}


def forward_filled(values: np.ndarray) -> np.ndarray:
    """The test's own forward fill: each NaN takes the value before it."""
    filled = values.copy()
    for seed in range(filled.shape[0]):
        for checkpoint in range(1, filled.shape[1]):
            if np.isnan(filled[seed, checkpoint]):
                filled[seed, checkpoint] = filled[seed, checkpoint - 1]
    return filled


def held_to_the_stop(result, name: str, final: str | None) -> tuple[np.ndarray, np.ndarray]:
    """The test's own held curves: on the checkpoint times and the stop times, each seed's last
    recorded value at or before the time, its final value from its stop time on."""
    grid = np.array(sorted(set(result.times.tolist()) | set(result.stop_time.tolist())))
    values = getattr(result, name)
    curves = np.empty((values.shape[0], grid.size))
    for seed in range(values.shape[0]):
        for column, time in enumerate(grid):
            if final is not None and time >= result.stop_time[seed]:
                curves[seed, column] = getattr(result, final)[seed]
            else:
                recorded = [v for t, v in zip(result.times, values[seed]) if t <= time and not np.isnan(v)]
                curves[seed, column] = recorded[-1]
    return grid, curves


def labelled_line(axes, label: str):
    """The one line of `axes` with this legend label."""
    lines = [line for line in axes.lines if line.get_label() == label]
    assert len(lines) == 1, [line.get_label() for line in axes.lines]
    return lines[0]


@pytest.fixture(scope="module")
def descent():
    return simulate(SMALL, progress=False)


@pytest.fixture(scope="module")
def certified():
    """A wide tracked flow whose seeds are all certified by (5) and stop at different times."""
    return simulate(Config(m=1, n=2, d=3, k=2000, activation="tanh", v_law="rademacher", method="flow", seeds=4,
                           t_max=100, track_ntk=True, dtype="float64"), progress=False)


def test_held_forward_fills_along_the_checkpoints():
    values = np.array([[1.0, np.nan, np.nan], [1.0, 2.0, np.nan], [3.0, 4.0, 5.0]])
    np.testing.assert_array_equal(held(values), [[1, 1, 1], [1, 2, 2], [3, 4, 5]])
    states = np.array([[[1.0, 2.0], [np.nan, np.nan]]])  # [seeds, checkpoints, s]
    np.testing.assert_array_equal(held(states), [[[1, 2], [1, 2]]])


def test_run_medians_are_over_all_seeds_with_stopped_seeds_held(descent, tmp_path):
    assert len(set(descent.stop_step.tolist())) >= 3  # seeds stop at different times: the test has power
    figure = descent.plot(tmp_path / "run.png")
    assert (tmp_path / "run.png").stat().st_size > 10_000
    shown = descent.times > 0
    for panel, curves in CURVES.items():
        axes = figure.axes[panel]
        assert "all 6 seeds" in axes.get_title()
        for label, (name, final) in curves.items():
            times, values = held_to_the_stop(descent, name, final)
            x, y = labelled_line(axes, label).get_data()
            np.testing.assert_array_equal(x, times[times > 0])
            expected = np.median(values, axis=0)[times > 0]
            np.testing.assert_allclose(y, expected, rtol=1e-12)
            band = axes.collections[list(curves).index(label)].get_paths()[0].vertices[:, 1]
            quartiles = np.percentile(values[:, times > 0], [25, 75], axis=0)
            np.testing.assert_allclose([band.min(), band.max()], [quartiles[0].min(), quartiles[1].max()], rtol=1e-12)
    running_only = np.nanmedian(descent.loss[:, shown], axis=0)
    x, y = labelled_line(figure.axes[0], "loss ½‖A g − y‖²").get_data()
    assert not np.allclose(y[np.isin(x, descent.times)], running_only)
    assert f"converged {int(descent.converged.sum())}/6" in figure.get_suptitle()


def test_converged_seeds_end_at_or_below_the_threshold():
    """The checkpoints end before the stop: held at its last checkpoint a converged seed would stay
    above the threshold; held at its final loss it ends at or below it."""
    result = simulate(Config(m=3, n=20, d=10, k=100, seeds=4, steps=500, threshold=1e-4), progress=False)
    threshold = result.config.threshold
    assert result.converged.all()
    assert np.any(forward_filled(result.loss)[:, -1] > threshold)  # the last checkpoints: the test has power
    _, curves = held_to_the_stop(result, "loss", "final_loss")
    assert np.all(curves[:, -1] <= threshold)
    _, y = labelled_line(result.plot().axes[0], "loss ½‖A g − y‖²").get_data()
    assert y[-1] <= threshold


def test_flow_run_figure(tmp_path):
    result = simulate(SMALL.replace(method="flow", t_max=300.0), progress=False)
    figure = result.plot(tmp_path / "flow.pdf")
    assert (tmp_path / "flow.pdf").stat().st_size > 10_000
    assert "flow" in figure.get_suptitle()
    times, losses = held_to_the_stop(result, "loss", "final_loss")
    x, y = labelled_line(figure.axes[0], "loss ½‖A g − y‖²").get_data()
    np.testing.assert_allclose(y, np.median(losses, axis=0)[times > 0], rtol=1e-12)


def test_noisy_run_marks_two_epsilon_and_the_early_stopping_times():
    result = simulate(SMALL.replace(noise=0.1, stop_at_threshold=False), progress=False)
    observation = result.plot().axes[1]
    two_epsilon = labelled_line(observation, "2‖ε‖ (median)")
    np.testing.assert_allclose(two_epsilon.get_ydata(), 2 * np.median(result.noise_norm))
    legend = [text.get_text() for text in observation.get_legend().get_texts()]
    for name, moments in (("T", result.early_stopping_time), ("T_H", result.observation_early_stopping_time)):
        finite = np.isfinite(moments)
        entry = [text for text in legend if text.startswith(name + " ")]
        assert len(entry) == 1 and f"finite for {finite.sum()}/6 seeds" in entry[0]
        marker = [line for line in observation.lines if line.get_label() == entry[0]]
        np.testing.assert_allclose(marker[0].get_xdata(), np.median(moments[finite]))
    times = result.times[result.times > 0]
    assert observation.get_xlim() == pytest.approx((times[0], times[-1]))  # a T after the run stretches nothing


def test_plot_needs_the_recovery_curves(descent):
    older = dataclasses.replace(descent, observation_error=None)  # a file saved before they existed
    with pytest.raises(ValueError, match="recovery curves"):
        older.plot()


def test_plot_ntk_needs_tracking():
    result = wideDIP.simulate(wideDIP.Config(m=2, n=3, d=2, k=4, seeds=1, steps=2), progress=False)
    with pytest.raises(ValueError, match="track_ntk"):
        result.plot_ntk()
    with pytest.raises(ValueError, match="track_ntk"):
        result.certified


def test_plot_ntk_holds_stopped_seeds_and_keeps_the_envelope_within_the_loss_range(certified, tmp_path):
    assert certified.certified.all() and len(set(certified.stop_time.tolist())) > 1
    figure = certified.plot_ntk(tmp_path / "ntk.png")
    kernels, losses = figure.axes[:2]
    shown = certified.times > 0
    largest = labelled_line(kernels, "λ_max(H)").get_ydata()
    np.testing.assert_allclose(largest, np.median(forward_filled(certified.ntk["max_lambda_H"]), axis=0)[shown],
                               rtol=1e-12)
    assert "all 4 seeds" in kernels.get_title() and "all 4 seeds" in losses.get_title()
    bottom, _ = losses.get_ylim()
    data = min(np.min(held_to_the_stop(certified, "loss", "final_loss")[1]), certified.config.threshold)
    labelled_line(losses, "Theorem 2.1 envelope (4 certified seeds)")
    envelope = 0.5 * certified.theory.envelope(certified.times[shown]) ** 2
    assert envelope.min() < bottom  # drawn, but clipped: left alone it would stretch the axis
    assert bottom >= data / 2
