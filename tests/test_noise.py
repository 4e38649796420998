"""Noise, early stopping and recovery (docs/theory.md §7): the curves, the early-stopping times,
the bound ‖y(t) − ȳ‖ ≤ 2‖ε‖ after T, and runs that go on past the threshold."""

import json

import jax
import numpy as np
import pytest

import wideDIP
from wideDIP import Config, draw_problem, seed_keys, simulate
from wideDIP._cli import main

# Wide network, tiny problem: hypothesis (5) holds for most seeds (tanh, D = 1), as in test_theory.py.
CERTIFIABLE = Config(
    m=1,
    n=2,
    d=5,
    k=2000,
    seeds=8,
    activation="tanh",
    v_law="rademacher",
    method="flow",
    rtol=1e-10,
    atol=1e-12,
    threshold=1e-12,
    dtype="float64",
    noise=0.2,
    stop_at_threshold=False,
    steps=300,
)
SMALL = Config(m=4, n=12, d=6, k=200, seeds=6, steps=1000, step_size=0.3, threshold=1e-10, dtype="float64")


@pytest.fixture(scope="module")
def certified_run():
    return simulate(CERTIFIABLE, progress=False)


def numpy_problem(config, seed):
    with jax.enable_x64(config.dtype == "float64"):
        return jax.tree.map(np.asarray, draw_problem(config, seed_keys(config)[seed]))


def test_certified_seeds_stay_within_twice_the_noise_after_T(certified_run):
    """Theorem 2.1(i) as an oracle, read from the recorded curves (not only from the flag)."""
    result = certified_run
    certified = result.certified
    assert certified.sum() >= 6
    checked = 0
    for seed in np.flatnonzero(certified):
        after = (result.times >= result.early_stopping_time[seed]) & ~np.isnan(result.observation_error[seed])
        if not after.any():
            assert result.bound_holds[seed] is None  # the run ended before T
            continue
        checked += 1
        assert np.all(result.observation_error[seed, after] <= 2 * result.noise_norm[seed])
        assert result.bound_holds[seed] is True
    assert checked >= 5
    assert all(result.bound_holds[~certified] == None)  # noqa: E711 (an object array)


def test_early_stopping_times_match_an_independent_numpy_computation(certified_run):
    """T = 4 ln(‖y(0) − y‖/‖ε‖)/(σ_A² σ_0²) and T_H with μ_0, from the closed-form kernels at W(0)."""
    config, result = CERTIFIABLE, certified_run
    derivative = lambda z: 1 - np.tanh(z) ** 2  # noqa: E731
    for seed in range(config.seeds):
        p = numpy_problem(config, seed)
        noise = np.linalg.norm(p.observation - p.clean_observation)
        x0 = p.layer @ np.tanh(p.features) / np.sqrt(config.k)
        start = np.linalg.norm(p.operator @ x0 - p.observation)
        kernel = (p.layer * derivative(p.features) ** 2) @ p.layer.T / config.k  # K(W(0)), ‖u‖ = 1
        sigma_a = np.linalg.svd(p.operator, compute_uv=False).min()
        mu_0 = np.linalg.eigvalsh(p.operator @ kernel @ p.operator.T).min()
        np.testing.assert_allclose(result.noise_norm[seed], noise, rtol=1e-12)
        expected = max(np.log(start / noise), 0.0)
        np.testing.assert_allclose(
            result.early_stopping_time[seed], 4 * expected / (sigma_a**2 * np.linalg.eigvalsh(kernel).min()), rtol=1e-8
        )
        np.testing.assert_allclose(result.observation_early_stopping_time[seed], 4 * expected / mu_0, rtol=1e-8)


@pytest.fixture(scope="module")
def noisy_descent():
    return simulate(SMALL.replace(noise=0.05, stop_at_threshold=False), progress=False)


def test_training_to_zero_loss_fits_the_noise(noisy_descent):
    """m ≤ n: A x = y at zero loss, so ‖A x − ȳ‖ = ‖ε‖ within ‖A x − y‖ ≤ √(2 threshold)."""
    result = noisy_descent
    assert result.converged.sum() >= 3
    assert np.all(result.final_loss[result.converged] <= SMALL.threshold)  # went on falling past the crossing
    gap = np.abs(result.final_observation_error - result.noise_norm)
    assert np.all(gap[result.converged] <= np.sqrt(2 * SMALL.threshold))
    assert np.all(result.noise_norm > 0)


def test_recovery_curves_are_consistent(noisy_descent):
    """Row-space part ≤ ‖A(x − x̄)‖/σ_A; the two parts add up (Pythagoras); the last recorded point
    is the end-of-run value computed on another path."""
    result = noisy_descent
    for seed in range(SMALL.seeds):
        p = numpy_problem(SMALL, seed)
        signal_norm = np.linalg.norm(p.signal)
        recorded = ~np.isnan(result.signal_error[seed])
        row = result.signal_error_row_space[seed, recorded] * signal_norm
        assert np.all(row <= result.observation_error[seed, recorded] / result.sigma_A[seed] * (1 + 1e-10))
        np.testing.assert_allclose(
            result.signal_error_row_space[seed, recorded] ** 2 + result.signal_error_kernel[seed, recorded] ** 2,
            result.signal_error[seed, recorded] ** 2,
            rtol=1e-10,
        )
    assert np.all(result.stop_step == SMALL.steps)  # the budget's end is the last checkpoint
    np.testing.assert_allclose(result.signal_error[:, -1], result.final_signal_error, rtol=1e-10)
    np.testing.assert_allclose(result.best_signal_error, np.nanmin(result.signal_error, axis=1))
    best = np.nanargmin(result.observation_error, axis=1)
    np.testing.assert_array_equal(result.oracle_time, result.times[best])
    # at_time: between checkpoints 7 and 8, the value at 8
    moment = result.times[7] / 2 + result.times[8] / 2
    np.testing.assert_array_equal(result.at_time("signal_error", moment), result.signal_error[:, 8])
    with pytest.raises(ValueError, match="at_time: curve must be one of"):
        result.at_time("noise_norm", 1.0)


def test_a_noise_free_run_has_no_early_stopping_time():
    result = simulate(SMALL.replace(steps=300), progress=False)
    assert np.all(result.noise_norm == 0) and np.all(np.isinf(result.early_stopping_time))
    assert set(result.early_stopping_reason) == {"no noise: ||epsilon|| = 0"}
    assert all(result.bound_holds == None)  # noqa: E711
    assert result.theory is None  # no kernels computed: nothing more than before
    recorded = ~np.isnan(result.loss)
    np.testing.assert_allclose(result.observation_error[recorded], np.sqrt(2 * result.loss[recorded]), rtol=1e-9)


def test_wide_k_below_n_has_no_T_and_says_why():
    result = simulate(SMALL.replace(k=8, noise=0.1, steps=50), progress=False)
    assert np.all(np.isinf(result.early_stopping_time))
    assert all(reason.startswith("sigma_0 = 0") for reason in result.early_stopping_reason)


@pytest.mark.parametrize("method", ["descent", "flow"])
def test_going_on_past_the_threshold_records_the_first_crossing(method):
    config = SMALL.replace(method=method, noise=0.05, threshold=1e-6, steps=300, seeds=3)
    stopping = simulate(config, progress=False)
    going_on = simulate(config.replace(stop_at_threshold=False), progress=False)
    assert stopping.converged.any()
    np.testing.assert_array_equal(going_on.converged, stopping.converged)
    np.testing.assert_array_equal(going_on.steps_to_threshold, stopping.steps_to_threshold)
    np.testing.assert_array_equal(going_on.time_to_threshold, stopping.time_to_threshold)
    np.testing.assert_allclose(going_on.stop_time, config.horizon)
    before = ~np.isnan(stopping.loss)
    np.testing.assert_array_equal(going_on.loss[before], stopping.loss[before])
    assert np.isfinite(going_on.loss).all()  # every checkpoint recorded
    crossed = stopping.converged
    assert np.all(going_on.final_loss[crossed] <= stopping.final_loss[crossed])  # the loss goes on falling


def test_the_flows_second_leg_continues_the_same_trajectory():
    """Past the crossing, the flow is integrated again from there: it agrees with one solve that
    never meets the threshold, within the solver's tolerance. (The shape of the test above: its two
    compiled flows, with and without the second leg, serve this one.)"""
    config = SMALL.replace(method="flow", noise=0.05, threshold=1e-4, steps=300, seeds=3, rtol=1e-10, atol=1e-12)
    two_legs = simulate(config.replace(stop_at_threshold=False), progress=False)
    one_leg = simulate(config.replace(threshold=1e-300), progress=False)
    assert two_legs.converged.all() and not one_leg.converged.any()
    np.testing.assert_allclose(two_legs.loss, one_leg.loss, rtol=1e-6, atol=1e-14)  # atol: the state's 1e-12
    np.testing.assert_allclose(two_legs.signal_error, one_leg.signal_error, rtol=1e-6)


def test_noise_levels_share_one_compilation(setup_traces):
    from wideDIP._experiments import simulate as _simulate

    traces = setup_traces
    base = Config(m=2, n=7, d=1, k=9, seeds=2)  # a shape no other test uses
    norms = []
    for noise in (0.1, 0.4):
        with _simulate.precision(base):
            prepared = _simulate.prepare(base.replace(noise=noise))
        problems = prepared.problems
        norms.append(np.linalg.norm(np.asarray(problems.observation - problems.clean_observation), axis=1))
    assert len(traces) == 1
    np.testing.assert_allclose(norms[1], 4 * norms[0], rtol=1e-5)  # the same ε, scaled


def test_json_carries_every_field(certified_run):
    payload = json.loads(json.dumps(certified_run.to_json()))
    import dataclasses

    large = {"reconstructions", "operator_matrix"}  # only when asked for, as `save` writes them
    assert {f.name for f in dataclasses.fields(certified_run)} - large <= payload.keys() and not large & payload.keys()
    everything = json.loads(json.dumps(certified_run.to_json(reconstructions=True, operator_matrix=True)))
    assert {f.name for f in dataclasses.fields(certified_run)} <= everything.keys()
    assert len(everything["reconstructions"][0]) == certified_run.times.size
    assert payload["signal"] == certified_run.signal.tolist()
    assert payload["bound_holds"] == certified_run.bound_holds.tolist()
    assert payload["theory"]["certified"] == certified_run.certified.tolist()
    assert len(payload["signal_error"]) == CERTIFIABLE.seeds
    assert len(payload["signal_error"][0]) == certified_run.times.size


def test_recovery_survives_save_and_load_and_format_1_still_loads(certified_run, tmp_path):
    loaded = wideDIP.load(certified_run.save(tmp_path / "noisy.npz"))
    assert loaded.bound_holds.tolist() == certified_run.bound_holds.tolist()
    for name in ("signal_error", "observation_error", "early_stopping_time", "best_signal_error", "noise_norm"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(certified_run, name))
    assert loaded.summary() == certified_run.summary()
    # a file of format 1: end-of-run errors under the names the curves have now
    with np.load(tmp_path / "noisy.npz") as data:
        arrays = {name: data[name] for name in data.files}
    header = json.loads(str(arrays.pop("header")))
    header["format"] = 1
    old = {
        name: values
        for name, values in arrays.items()
        if name
        in (
            "status",
            "steps_to_threshold",
            "stop_step",
            "stop_time",
            "time_to_threshold",
            "solver_steps",
            "initial_loss",
            "final_loss",
            "times",
            "loss",
            "weight_distance",
            "stability",
        )
    }
    old.update(signal_error=arrays["final_signal_error"], observation_error=arrays["final_observation_error"])
    np.savez(tmp_path / "old.npz", header=np.array(json.dumps(header)), **old)
    loaded = wideDIP.load(tmp_path / "old.npz")
    np.testing.assert_array_equal(loaded.final_signal_error, certified_run.final_signal_error)
    assert loaded.signal_error is None and "signal error" in loaded.summary()


def test_command_line_reports_the_noise(capsys):
    assert (
        main(
            [
                "simulate",
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
                "200",
                "--noise",
                "0.1",
                "--no-stop-at-threshold",
                "--quiet",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "median ||epsilon||" in out and "early stopping" in out and "bound after T" in out
