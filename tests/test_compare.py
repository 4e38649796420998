"""`compare`: gradient descent against the flow on the time axis t = iteration × η; its summary,
JSON, file and command."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import wideDIP
from wideDIP import ComparisonResult, Config, compare, draw_problem, initial_weights, network, seed_keys
from wideDIP._cli import main

SMOOTH = Config(
    m=3,
    n=8,
    d=4,
    k=30,
    seeds=3,
    steps=40,
    step_size=0.1,
    operator_scale="sqrt_n",
    method="flow",
    threshold=1e-30,
    rtol=1e-10,
    atol=1e-12,
    dtype="float64",
)
TINY = Config(m=4, n=12, d=6, k=40, seeds=3, steps=20, threshold=0.5)
"""Horizon t = 20, which η = 0.3 overshoots (67 steps: t = 20.1); seed 0 reaches the threshold."""
TINY_OPTIONS = [
    "--m",
    "4",
    "--n",
    "12",
    "--d",
    "6",
    "--k",
    "40",
    "--seeds",
    "3",
    "--steps",
    "20",
    "--threshold",
    "0.5",
    "--step-sizes",
    "1",
    "0.3",
    "--quiet",
]


@pytest.fixture(scope="module")
def tiny():
    return compare(TINY, step_sizes=(1.0, 0.3), progress=False)


def test_descent_approaches_the_flow_at_order_one():
    """Global error of explicit Euler = O(η): halving η halves the gap (observed order in [0.7, 1.3])."""
    result = compare(SMOOTH, step_sizes=(0.4, 0.2, 0.1, 0.05), progress=False)
    assert np.all(result.status == "stalled") and np.all(result.flow_status == "stalled")  # whole horizon t = 4
    for gaps in (result.max_state_gap, result.max_loss_gap):
        orders = np.log2(gaps[:-1] / gaps[1:])
        assert np.all((orders > 0.7) & (orders < 1.3)), orders
    assert np.all(result.stability < 2)
    np.testing.assert_array_equal(result.step_sizes, [0.4, 0.2, 0.1, 0.05])
    for e, eta in enumerate(result.step_sizes):
        times = result.times[e][~np.isnan(result.times[e])]
        assert times[-1] == pytest.approx(SMOOTH.horizon)
        np.testing.assert_allclose(times / eta, np.round(times / eta), atol=1e-9)  # on the iterates
    # the flow is the same draw for every η: identical at shared times
    assert result.flow_loss[0, :, 0] == pytest.approx(result.descent_loss[-1, :, 0])


def test_stability_number_matches_a_jacobian_computed_independently():
    """η λ_max(A J Jᵀ Aᵀ) at W(0), with J = ∂g/∂W by jax.jacfwd on the network (4). (SMOOTH: the
    programs of the test above.)"""
    config = SMOOTH
    result = compare(config, step_sizes=(0.3,), progress=False)
    with jax.enable_x64(True):
        for s, key in enumerate(seed_keys(config)):
            problem = draw_problem(config, key)
            weights = initial_weights(config, key, problem)
            jacobian = jax.jacfwd(lambda w: network(w, problem.input, problem.layer, config.activation))(weights)  # noqa: B023
            j = problem.operator @ jacobian.reshape(config.n, -1)
            expected = 0.3 * float(jnp.linalg.eigvalsh(j @ j.T)[-1])  # a Python float: pytest.approx takes no JAX array
            assert result.stability[0, s] == pytest.approx(expected, rel=1e-10)


def test_papers_setting_large_n_is_beyond_the_stability_limit(tmp_path, capsys):
    """docs/theory.md §5: with A ~ N(0,1), λ_max(H(0)) ≈ C_φ'² (√n + √m)² grows with n; η = 1 is far
    beyond 2 at n = 500. The CLI writes the figure and the table."""
    figure = tmp_path / "compare.png"
    assert (
        main(
            [
                "compare",
                "--m",
                "10",
                "--n",
                "500",
                "--k",
                "500",
                "--seeds",
                "8",
                "--steps",
                "300",
                "--step-sizes",
                "1",
                "--figure",
                str(figure),
                "--quiet",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert figure.exists() and figure.stat().st_size > 10_000
    row = next(line for line in out.splitlines() if line.split() and line.split()[0] == "1")
    assert float(row.split()[1]) > 2


def test_step_sizes_keep_the_order_given():
    from wideDIP._experiments.compare import checked_step_sizes

    np.testing.assert_array_equal(checked_step_sizes([0.1, 1, 0.5]), [0.1, 1.0, 0.5])


def test_bad_step_sizes():
    with pytest.raises(ValueError, match="step_sizes"):
        compare(SMOOTH, step_sizes=(0.1, -1.0), progress=False)


def _held(values):
    """Each entry replaced by the last recorded (non-NaN) value at or before it."""
    out, last = [], np.nan
    for value in values:
        last = last if np.isnan(value) else value
        out.append(last)
    return np.array(out)


def test_relative_loss_gap_recomputed_from_the_saved_curves(tiny):
    """max over the times where either run goes on of |L_GD − L_GF| / max(L_GF, threshold), each
    run held at its last value after it stopped."""
    assert "converged" in tiny.flow_status and "stalled" in tiny.flow_status  # the held values and the floor matter
    for e in range(len(tiny.step_sizes)):
        for s in range(TINY.seeds):
            flow, descent = tiny.flow_loss[e, s], tiny.descent_loss[e, s]
            going = ~np.isnan(flow) | ~np.isnan(descent)
            gap = np.abs(_held(descent) - _held(flow))
            relative = gap / np.maximum(_held(flow), TINY.threshold)
            assert tiny.max_relative_loss_gap[e, s] == pytest.approx(relative[going].max(), rel=1e-6)
            assert tiny.max_loss_gap[e, s] == pytest.approx(gap[going].max(), rel=1e-6)
    assert np.all(tiny.max_relative_loss_gap < tiny.max_loss_gap)  # the loss starts above 1 on every seed


def test_summary_prints_the_horizon_asked_for(tiny):
    assert np.nanmax(tiny.times) == pytest.approx(20.1)  # 67 steps of 0.3
    header = tiny.summary().splitlines()[0]
    assert "horizon t=20 " in header and "20.1" not in header
    row = next(line.split() for line in tiny.summary().splitlines() if line.split()[:1] == ["0.3"])
    assert float(row[3]) == pytest.approx(np.median(tiny.max_relative_loss_gap[1]), rel=1e-2)


def test_an_euler_flow_is_descent_at_its_step():
    """solver="euler" integrates the flow with constant steps `step_size`: descent at that step (up to rounding;
    eta*lambda_max(H0) < 2: not amplified); the summary names the step, not the tolerances Euler does not use."""
    result = compare(TINY.replace(method="flow", solver="euler", step_size=0.5), step_sizes=(0.5,), progress=False)
    assert np.all(result.stability < 2) and not np.isnan(result.flow_loss).all()
    np.testing.assert_allclose(result.flow_loss, result.descent_loss, rtol=1e-5)
    flow = result.summary().splitlines()[1]
    assert flow.startswith("flow (euler, step 0.5): ") and "rtol" not in result.summary()


def test_save_and_load_round_trip(tiny, tmp_path):
    path = tiny.save(tmp_path / "comparison")
    assert path.name == "comparison.npz" and list(tmp_path.iterdir()) == [path]
    loaded = wideDIP.load(path)
    assert isinstance(loaded, ComparisonResult)
    assert loaded.config == tiny.config and loaded.environment == tiny.environment and loaded.network == tiny.network
    assert loaded.wall_time == tiny.wall_time and loaded.operator_sha256 is None
    for name, values in vars(tiny).items():
        if isinstance(values, np.ndarray):
            np.testing.assert_array_equal(getattr(loaded, name), values, err_msg=name)
    assert loaded.summary() == tiny.summary()


def test_plot_draws_the_median_and_quartiles_over_all_seeds(tiny, tmp_path):
    from matplotlib.image import imread

    from wideDIP._figures.plots import PRINT_DPI

    figure = tiny.plot(tmp_path / "c.png")
    axes = figure.axes[0]
    finest = int(np.argmin(tiny.step_sizes))
    expected = {"flow": (tiny.times[finest], tiny.flow_loss[finest])}
    for e, eta in enumerate(tiny.step_sizes):
        expected[f"descent η={eta:g}"] = (tiny.times[e], tiny.descent_loss[e])
    medians = [line for line in axes.lines if line.get_label() != "threshold"]
    assert len(medians) == len(expected)  # no single runs unless asked for
    for (name, (times, losses)), line, band in zip(expected.items(), medians, axes.collections):
        assert line.get_label().startswith(name)
        shown = times > 0
        held = np.array([_held(run) for run in losses])[:, shown]
        np.testing.assert_allclose(line.get_data(), [times[shown], np.median(held, axis=0)], rtol=1e-12)
        low, high = np.percentile(held, [25, 75], axis=0)
        np.testing.assert_allclose(band.get_paths()[0].vertices[:, 1].min(), low.min(), rtol=1e-12)
        np.testing.assert_allclose(band.get_paths()[0].vertices[:, 1].max(), high.max(), rtol=1e-12)
    title = axes.get_title().replace("\n", " ")
    for words in ("3 seeds", "horizon t = 20", "d = 6", "threshold 0.5", "k = 40", "all 3 seeds"):
        assert words in title
    width, height = figure.get_size_inches()
    assert imread(tmp_path / "c.png").shape[:2] == (round(height * PRINT_DPI), round(width * PRINT_DPI))
    runs = tiny.plot(seeds=2).axes[0].lines
    assert len(runs) == len(medians) + 1 + 2 * len(expected)


def test_plot_draws_a_saved_comparison(tiny, tmp_path):
    path = tiny.save(tmp_path / "comparison.npz")
    assert main(["plot", str(path)]) == 0
    for suffix in (".png", ".pdf"):
        assert path.with_suffix(suffix).stat().st_size > 10_000
    assert path.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_out_and_json(tiny, tmp_path, capsys, monkeypatch):
    """`widedip compare --out --json`: one JSON object on stdout, the same numbers as `compare` and as the
    file; no figure without `--figure` (as `widedip simulate`)."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "c.npz"
    assert main(["compare", *TINY_OPTIONS, "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert "figure" not in captured.err and list(tmp_path.iterdir()) == [out]
    assert payload["config"] == TINY.replace(method="flow").to_dict() and payload["horizon"] == 20
    saved = wideDIP.load(out)
    for name in ("max_loss_gap", "max_relative_loss_gap", "max_state_gap", "status", "flow_status", "step_sizes"):
        np.testing.assert_array_equal(np.asarray(payload[name]), getattr(tiny, name), err_msg=name)
        np.testing.assert_array_equal(getattr(saved, name), getattr(tiny, name), err_msg=name)


def test_track_ntk_tracks_the_kernels_on_both_legs(tmp_path):
    """With `track_ntk`, the kernels along the flow and along each descent: both start from the same
    θ(0) (equal at t = 0, and equal to `simulate`'s), and the smallest step ends near the flow."""
    config = SMOOTH.replace(seeds=2, solver="dopri5", track_ntk=True)  # a flow's solver: reset for the descent legs
    result = compare(config, step_sizes=(0.4, 0.1), progress=False)
    assert result.config == config and np.all(result.status == "stalled")
    simulated = wideDIP.simulate(config, progress=False).ntk
    assert set(result.flow_ntk) == set(result.descent_ntk) == set(simulated)
    for name in simulated:
        assert result.flow_ntk[name].shape == result.descent_ntk[name].shape == result.flow_loss.shape
    for leg in (result.flow_ntk, result.descent_ntk):
        at_start = leg["min_lambda_H"][:, :, 0]
        np.testing.assert_allclose(
            at_start, np.broadcast_to(simulated["min_lambda_H"][:, 0], at_start.shape), rtol=1e-12
        )
    last = int(np.sum(~np.isnan(result.times[1]))) - 1  # η = 0.1: t = 4
    assert result.times[1, last] == pytest.approx(config.horizon)
    for name in ("min_lambda_H", "max_lambda_H"):
        flow, descent = result.flow_ntk[name][1, :, last], result.descent_ntk[name][1, :, last]
        assert np.all(flow != descent) and np.allclose(descent, flow, rtol=1e-2)  # moved, and alike
    loaded = wideDIP.load(result.save(tmp_path / "tracked.npz"))
    for field in ("flow_ntk", "descent_ntk"):
        for name, values in getattr(result, field).items():
            np.testing.assert_array_equal(getattr(loaded, field)[name], values, err_msg=f"{field} {name}")
    # the summary: per leg, lambda_min(H) at t = 0 and at the last evaluation (here the horizon), max lambda_max(H)
    rows = _kernel_rows(result.summary())
    assert list(rows) == ["flow", "eta=0.4", "eta=0.1"]
    for leg, row in rows.items():
        assert row[0] == f"{np.median(simulated['min_lambda_H'][:, 0]):.3g}" and row[2] == f"{config.horizon:g}", leg
    kernels = result.descent_ntk
    assert rows["eta=0.1"][1] == f"{np.median(kernels['min_lambda_H'][1, :, last]):.3g}"
    assert rows["eta=0.1"][3] == f"{np.median(np.nanmax(kernels['max_lambda_H'][1], axis=1)):.3g}"


def _kernel_rows(summary):
    """The rows of the summary's NTK table by leg ("flow", "eta=..."): its four columns' texts."""
    lines = summary.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["NTK"])
    end = next(i for i, line in enumerate(lines) if line.startswith("NTK:"))
    return {line.split()[0]: line.split()[1:] for line in lines[header + 1 : end]}


def test_kernels_evaluated_at_ntk_checkpoints_are_at_the_same_times_on_both_legs(tiny):
    """A network whose kernels need the parameters (`ntk_checkpoints` of them): the flow's are taken
    where descent's are; without `track_ntk` there are none."""
    assert tiny.flow_ntk is None and tiny.descent_ntk is None
    assert "NTK" not in tiny.summary() and "lambda_min(H)" not in tiny.summary()
    config = SMOOTH.replace(seeds=1, network="two_layer_both", track_ntk=True, ntk_checkpoints=4)
    result = compare(config, step_sizes=(0.4, 0.2), progress=False)
    for e in range(len(result.step_sizes)):
        evaluated = ~np.isnan(result.descent_ntk["max_lambda_H"][e, 0])
        assert evaluated.sum() == 4 and evaluated[0]
        np.testing.assert_array_equal(~np.isnan(result.flow_ntk["max_lambda_H"][e, 0]), evaluated)


def test_a_descent_that_stops_early_gets_every_kernel_checkpoint_before_its_stop():
    """`ntk_checkpoints` are spread over the checkpoints each descent reaches before its last stop
    (as `simulate`'s), not over the whole budget; the flow's are at the same times while it runs."""
    config = SMOOTH.replace(seeds=1, network="two_layer_both", track_ntk=True, ntk_checkpoints=4, threshold=0.5)
    result = compare(config, step_sizes=(0.4, 0.2), progress=False)
    for e in range(len(result.step_sizes)):
        reached = np.flatnonzero(~np.isnan(result.descent_loss[e, 0]))
        assert result.status[e, 0] == "converged" and reached[-1] < np.sum(~np.isnan(result.times[e])) / 2
        evaluated = ~np.isnan(result.descent_ntk["max_lambda_H"][e, 0])
        assert evaluated.sum() == 4 and evaluated[0] and evaluated[reached[-1]]
        flow_running = ~np.isnan(result.flow_loss[e, 0])
        np.testing.assert_array_equal(~np.isnan(result.flow_ntk["max_lambda_H"][e, 0]), evaluated & flow_running)
        # the summary's last evaluation is at the descent's stop, not at the horizon
        row = _kernel_rows(result.summary())[f"eta={result.step_sizes[e]:g}"]
        assert row[1:3] == [
            f"{result.descent_ntk['min_lambda_H'][e, 0, reached[-1]]:.3g}",
            f"{result.times[e, reached[-1]]:.4g}",
        ]


def test_a_comparison_that_recorded_nothing_says_so():
    """A network whose output is NaN from the start (as in test_descent): every run diverges at its
    first step; the figure is drawn with a note saying so, the summary has no gap to give ("-")."""
    network = wideDIP.FunctionNetwork(
        lambda key: jax.random.normal(key, (6, 4)), lambda theta, u: theta @ u * np.nan, name="nan_output"
    )
    result = compare(
        Config(m=3, n=6, d=4, k=5, seeds=2, steps=20, method="flow"), step_sizes=(1.0,), network=network, progress=False
    )
    assert np.all(result.status == "diverged") and np.all(result.flow_status == "diverged")
    assert np.isnan(result.max_loss_gap).all() and np.isnan(result.max_state_gap).all()
    axes = result.plot().axes[0]
    assert [" ".join(text.get_text().split()) for text in axes.texts] == [
        "nothing recorded: every seed diverged at its first step"
    ]
    row = result.summary().splitlines()[4].split()
    assert row[0] == "1" and row[2:5] == ["-", "-", "-"]
