"""compare_dynamics and `widedip compare --dynamics`: several dynamics from the same draws on one
axis (docs/theory.md §11)."""

import numpy as np
import pytest

import wideDIP
from wideDIP import Config
from wideDIP._cli import main
from wideDIP._experiments.compare_dynamics import compare_dynamics

BASE = Config(
    m=3, n=6, d=4, k=5, seeds=3, steps=150, step_size=0.5, operator_scale="sqrt_n", threshold=1e-9, dtype="float64"
)


def test_dynamics_share_the_draws_and_the_time_horizon():
    result = compare_dynamics(
        BASE, ["sgd", "heavy_ball", "flow"], step_sizes=[0.5, 0.125], momentum=0.5, progress=False
    )
    assert result.axis == "time"
    assert result.labels == [
        "descent η=0.5",
        "descent η=0.125",
        "heavy ball η=0.5 μ=0.5",
        "heavy ball η=0.125 μ=0.5",
        "flow (auto)",
    ]
    for run in result.results:  # the same problems: the same loss at θ(0) (to the rounding of each program)
        np.testing.assert_allclose(run.initial_loss, result.results[0].initial_loss, rtol=1e-14)
        step = run.times[-1] / run.config.steps if run.config.method == "descent" else 0.0
        assert abs(run.times[-1] - BASE.horizon) <= step / 2 + 1e-12  # 150 × 0.5, to the nearest iteration
    heavy = result.results[3]
    assert heavy.config.steps == round(BASE.horizon / np.sqrt(0.125))  # t = τ √η
    np.testing.assert_allclose(heavy.times, np.asarray(wideDIP.checkpoint_steps(heavy.config.steps)) * np.sqrt(0.125))
    # each run equals the simulation of its own config
    alone = wideDIP.simulate(heavy.config, progress=False)
    np.testing.assert_array_equal(alone.loss, heavy.loss)


def test_without_a_time_axis_the_axis_is_the_iteration():
    result = compare_dynamics(BASE, ["sgd", "adam"], step_sizes=[0.05], progress=False)
    assert result.axis == "iteration" and [run.config.steps for run in result.results] == [150, 150]
    reached = result.to_threshold(result.results[1])
    steps = result.results[1].steps_to_threshold
    np.testing.assert_array_equal(np.isnan(reached), steps < 0)


@pytest.mark.parametrize(
    "dynamics, extra, message",
    [
        (["sgd"], {}, "at least two dynamics"),
        (["sgd", "adam", "flow"], {}, "adam has no time axis"),
        (["sgd", "sgd"], {}, "repeats the value 'sgd'"),
        (["sgd", "nesterov"], {"b1": 0.5}, "b1 applies to none of the dynamics compared"),
        (["sgd", "flow"], {"threshold": 1.0}, "'threshold' is not a hyperparameter"),
        (["flow", "inertial_flow"], {"step_sizes": [0.1]}, "step_sizes apply to none of the dynamics compared"),
    ],
)
def test_wrong_dynamics_are_one_line_errors(dynamics, extra, message):
    with pytest.raises(ValueError, match=message):
        compare_dynamics(BASE, dynamics, progress=False, **extra)


def test_the_command_line_compares_the_dynamics_it_names(tmp_path, capsys):
    out = tmp_path / "three.npz"
    arguments = "--m 3 --n 6 --d 4 --k 5 --seeds 3 --steps 150 --operator-scale sqrt_n --dtype float64 --quiet"
    assert (
        main(
            [
                "compare",
                "--dynamics",
                "sgd",
                "nesterov",
                "flow",
                "--momentum",
                "0.5",
                "--step-sizes",
                "0.5",
                "--out",
                str(out),
                *arguments.split(),
            ]
        )
        == 0
    )
    printed = capsys.readouterr()
    assert "Nesterov η=0.5 μ=0.5" in printed.out and "flow (auto)" in printed.out
    saved = [wideDIP.load(tmp_path / f"three.{i}.npz") for i in range(3)]
    assert [s.config.optimizer for s in saved] == ["sgd", "nesterov", "sgd"] and saved[2].config.method == "flow"
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--dynamics", "sgd", "adam", "--optimizer", "adam", *arguments.split()])
    assert exit_info.value.code == 2 and "--optimizer: with --dynamics" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # the flow against descent has no momentum
        main(["compare", "--momentum", "0.5", *arguments.split()])
    assert exit_info.value.code == 2 and "name them with --dynamics" in capsys.readouterr().err
    assert main(["plot", str(tmp_path / "three.1.npz")]) == 0  # a second dot in the name is not a figure suffix
    assert (tmp_path / "three.1.png").is_file() and (tmp_path / "three.1.pdf").is_file()
