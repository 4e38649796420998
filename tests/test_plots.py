"""Figures of a run (`SimulationResult.plot`, `plot_ntk`): every median is over all seeds, a
stopped seed held at its final value from its stop time on; the Theorem 2.1 envelope stays within
the loss' range."""

import dataclasses

import numpy as np
import pytest

import wideDIP
from wideDIP import Config, simulate
from wideDIP._figures.plots import held

SMALL = Config(m=5, n=20, d=10, k=40, seeds=6, steps=300, dtype="float64")
CURVES = {  # panel of `plot`: the label of each median line, the result's field it draws and its final value
    0: {"loss ½‖A g − y‖²": ("loss", "final_loss")},
    1: {"‖y(t) − ȳ‖": ("observation_error", "final_observation_error")},
    2: {
        "‖x(t) − x̄‖ / ‖x̄‖": ("signal_error", "final_signal_error"),
        "row space  ‖P(x(t) − x̄)‖ / ‖x̄‖": ("signal_error_row_space", None),
        "kernel  ‖(I − P)(x(t) − x̄)‖ / ‖x̄‖": ("signal_error_kernel", None),
    },
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
    return simulate(
        Config(
            m=1,
            n=2,
            d=3,
            k=2000,
            activation="tanh",
            v_law="rademacher",
            method="flow",
            seeds=4,
            t_max=100,
            track_ntk=True,
            dtype="float64",
        ),
        progress=False,
    )


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


@pytest.fixture(scope="module")
def noisy():
    return simulate(SMALL.replace(noise=0.1, stop_at_threshold=False), progress=False)


def test_noisy_run_marks_two_epsilon_and_the_early_stopping_times(noisy):
    result = noisy
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
    tiny = wideDIP.Config(m=2, n=3, d=2, k=4, seeds=2, steps=3)  # test_invalid_input.py's
    result = wideDIP.simulate(tiny, progress=False)
    with pytest.raises(ValueError, match="track_ntk"):
        result.plot_ntk()
    with pytest.raises(ValueError, match="track_ntk"):
        result.certified  # noqa: B018 (the property raises)


def test_plot_ntk_holds_stopped_seeds_and_keeps_the_envelope_within_the_loss_range(certified, tmp_path):
    assert certified.certified.all() and len(set(certified.stop_time.tolist())) > 1
    figure = certified.plot_ntk(tmp_path / "ntk.png")
    kernels, losses = figure.axes[:2]
    shown = certified.times > 0
    largest = labelled_line(kernels, "λ_max(H)").get_ydata()
    np.testing.assert_allclose(
        largest, np.median(forward_filled(certified.ntk["max_lambda_H"]), axis=0)[shown], rtol=1e-12
    )
    assert "all 4 seeds" in kernels.get_title() and "all 4 seeds" in losses.get_title()
    bottom, _ = losses.get_ylim()
    data = min(np.min(held_to_the_stop(certified, "loss", "final_loss")[1]), certified.config.threshold)
    labelled_line(losses, "Theorem 2.1 envelope (4 certified seeds)")
    envelope = 0.5 * certified.theory.envelope(certified.times[shown]) ** 2
    assert envelope.min() < bottom  # drawn, but clipped: left alone it would stretch the axis
    assert bottom >= data / 2


def _time_markers(axes) -> dict[str, float]:
    """The early-stopping markers of a panel, by name ("T", "T_H"): where each is drawn."""
    return {
        line.get_label().split(" ")[0]: line.get_xdata()[0]
        for line in axes.lines
        if line.get_label().split(" ")[0] in ("T", "T_H")
    }


def test_the_noisy_figure_marks_T_on_the_signal_panel_too_at_a_printable_width(noisy, descent, tmp_path):
    """The question is the signal error at `T`: `T` and `T_H` are marked on its panel as on the
    observation panel; the figure is at most 2500 px wide at the print resolution (it was 4800)."""
    from matplotlib.image import imread

    figure = noisy.plot(tmp_path / "noisy.png")
    observation, signal = figure.axes[1], figure.axes[2]
    assert signal.get_ylabel() == "relative signal error"
    assert _time_markers(signal) == _time_markers(observation)
    for name, moments in (("T", noisy.early_stopping_time), ("T_H", noisy.observation_early_stopping_time)):
        assert _time_markers(signal)[name] == pytest.approx(np.median(moments[np.isfinite(moments)]))
    assert imread(tmp_path / "noisy.png").shape[1] <= 2500
    assert _time_markers(descent.plot().axes[2]) == {}  # no noise, no T


def test_plot_ntk_marks_only_the_checkpoints_where_the_kernels_were_evaluated(certified):
    """The Jacobian route evaluates the kernels at some checkpoints only (here every fifth): markers
    there, none on the values held after the last seed stopped, which a dotted line marks."""
    from wideDIP._figures.plots import EVALUATED_LABEL, HELD_LABEL

    evaluated = np.zeros(certified.times.size, bool)
    evaluated[::5] = True
    sparse = dataclasses.replace(
        certified, ntk={name: np.where(evaluated, values, np.nan) for name, values in certified.ntk.items()}
    )
    kernels = sparse.plot_ntk().axes[0]
    last_stop = certified.stop_time.max()
    measured = evaluated & (certified.times > 0) & (certified.times <= last_stop)
    assert (certified.times > last_stop).sum() >= 2  # values held after the stop: the test has power
    for label in ("λ_min(K)  (n×n, signal)", "λ_max(H)"):
        line = labelled_line(kernels, label)
        x, marked = line.get_xdata(), np.asarray(line.get_markevery(), bool)
        assert line.get_marker() == "o"
        np.testing.assert_array_equal(x[marked], certified.times[measured])
        assert np.all(x[~marked] > last_stop) and x[-1] == certified.times[-1]  # held: drawn without markers
    (held_line,) = [line for line in kernels.lines if line.get_label() == HELD_LABEL]
    assert held_line.get_xdata()[0] == last_stop
    assert EVALUATED_LABEL in [text.get_text() for text in kernels.get_legend().get_texts()]


@pytest.mark.parametrize("method", ["plot", "plot_ntk"])
def test_a_figure_path_is_checked_before_drawing(certified, tmp_path, method):
    draw = getattr(certified, method)
    with pytest.raises(
        ValueError, match=rf"SimulationResult\.{method}: path: the folder '/nonexistent/dir' .* does not exist"
    ):
        draw("/nonexistent/dir/out.png")
    with pytest.raises(
        ValueError, match=rf"SimulationResult\.{method}: path: '.*out\.xyz' must end in one of .*\.pdf.*\.png"
    ):
        draw(tmp_path / "out.xyz")
    with pytest.raises(ValueError, match=rf"SimulationResult\.{method}: path: .* is a folder"):
        draw(tmp_path)
    assert list(tmp_path.iterdir()) == []


def _notes(axes) -> list[str]:
    """The words written across a panel (`note_when_empty`), each on one line."""
    return [" ".join(text.get_text().split()) for text in axes.texts]


def _legend(axes) -> list[str]:
    return [text.get_text() for text in axes.get_legend().get_texts()]


def test_a_run_that_recorded_nothing_is_drawn_with_a_note(tmp_path):
    """Every seed diverged at its first step (a network whose output is NaN, as in test_descent): each
    panel of both figures says so in words, each curve's label says it has nothing to draw, and the
    files are written (matplotlib found nothing to place a log scale on)."""
    import jax

    from wideDIP import FunctionNetwork

    network = FunctionNetwork(
        lambda key: jax.random.normal(key, (6, 4)), lambda theta, u: theta @ u * np.nan, name="nan_output"
    )
    result = simulate(
        Config(m=3, n=6, d=4, k=5, seeds=2, steps=20, noise=0.1, track_ntk=True), network=network, progress=False
    )
    assert list(result.status) == ["diverged"] * 2
    note = "nothing recorded: every seed diverged at its first step"
    for method, panels in (("plot", 3), ("plot_ntk", 2)):
        figure = getattr(result, method)(tmp_path / f"{method}.png")
        assert (tmp_path / f"{method}.png").stat().st_size > 10_000
        for axes in figure.axes[:panels]:
            assert _notes(axes) == [note]
            curves = [label for label in _legend(axes) if label.startswith(("loss", "‖", "row", "kernel", "λ"))]
            assert curves and all(label.endswith(": nothing to draw") for label in curves)
            bottom, top = axes.get_ylim()
            assert 0 < bottom < top < np.inf


def test_a_curve_with_nothing_to_draw_says_so_beside_those_drawn(descent):
    """A panel whose curves are only partly all-NaN draws the others, without a note; one seed that
    recorded nothing makes the loss' median NaN: the panel says why."""
    silent = descent.loss.copy()
    silent[0] = np.nan
    status = descent.status.copy()
    status[0] = "diverged"
    changed = dataclasses.replace(
        descent,
        signal_error_kernel=np.full_like(descent.signal_error_kernel, np.nan),
        loss=silent,
        final_loss=np.where(np.arange(descent.config.seeds) == 0, np.nan, descent.final_loss),
        status=status,
    )
    losses, observation, signal = changed.plot().axes[:3]
    kernel = "kernel  ‖(I − P)(x(t) − x̄)‖ / ‖x̄‖"
    assert f"{kernel}: nothing to draw" in _legend(signal) and "‖x(t) − x̄‖ / ‖x̄‖" in _legend(signal)
    assert _notes(signal) == [] and _notes(observation) == []
    assert np.isfinite(labelled_line(signal, "‖x(t) − x̄‖ / ‖x̄‖").get_ydata()).all()
    assert _notes(losses) == [
        f"no median: 1 of {descent.config.seeds} seeds diverged at their first step and recorded nothing"
    ]
