"""Observers of any dynamics (docs/theory.md §3, §11): the kernel drift along a run and the measured
exponential rate of the residual against the linearised prediction."""

import dataclasses
import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import wideDIP
from wideDIP import Config, TwoLayer, draw_problem, initial_weights, ntk, seed_keys, simulate
from wideDIP._analysis.rates import last_recorded, measured_rate
from wideDIP._networks.kernels import KERNEL_DRIFTS, BothKernelProbe, KernelProbe, jacobian, jacobian_extremes
from wideDIP._resolve import builtin_network

QUADRATIC = Config(m=3, n=8, d=5, k=40, seeds=3, activation="identity", threshold=1e-14, dtype="float64")
"""A linear network: the loss is quadratic in `W` and `H` does not move (docs/theory.md §3)."""


def _slope(widths, values):
    return np.polyfit(np.log(widths), np.log(values), 1)[0]


def test_under_descent_the_jacobian_moves_like_one_over_sqrt_k_and_the_kernel_like_one_over_k():
    """Monte Carlo over 64 seeds at k = 50, 200, 800 (sigmoid, descent η = 1, 100 steps, float64): the
    median over seeds, at each seed's last checkpoint, of `‖J(t) − J(0)‖₂` (the Lipschitz ratio times
    `‖W(t) − W(0)‖_F`) and of the kernel drifts, against k on log-log axes.

    The Jacobian follows lazy training's `1/√k`: fitted slope −1/2 ± 0.15. The kernels' drift is
    bounded by `2‖J‖‖ΔJ‖ + ‖ΔJ‖²`, also `O(1/√k)`, but for this network it falls faster: to first
    order `K(t) − K(0) = −(2/k^{3/2}) Σ_j φ'²φ''(z_j(0)) (v_jᵀ c) v_j v_jᵀ` (`c = ∫ Aᵀ r`), a sum of k
    terms of mean 0 (`v_j` symmetric, independent of `z_j(0)`), so of size `√k`: the drift is
    `O(1/k)`. Over these widths the fitted slopes of four sets of 64 seeds were −0.79 to −0.89 (the
    local slopes up to k = 12800 approach −1), the Jacobian's −0.51 to −0.53: the drifts' asserted in
    [−1.2, −0.65], which excludes −1/2 by more than three times their spread, the Jacobian's in
    −1/2 ± 0.15 (the Monte Carlo error of a median of 64 seeds at each width, with room)."""
    widths = (50, 200, 800)
    medians = []
    for k in widths:
        config = Config(m=5, n=8, d=5, k=k, seeds=64, steps=100, threshold=1e-12, track_ntk=True, dtype="float64")
        result = simulate(config, progress=False)
        assert np.all(result.stability < 2)  # no catapult: descent stays near the flow
        jacobian_change = last_recorded(result.ntk["jacobian_lipschitz_ratio"] * result.weight_distance)
        drifts = [last_recorded(result.ntk[name]) for name in KERNEL_DRIFTS]
        medians.append([np.median(values) for values in (jacobian_change, *drifts)])
    jacobian_slope, *drift_slopes = (_slope(widths, column) for column in np.array(medians).T)
    assert -0.65 < jacobian_slope < -0.35, jacobian_slope
    for slope in drift_slopes:
        assert -1.2 < slope < -0.65, drift_slopes


def test_on_a_quadratic_loss_the_kernels_stay_and_the_rates_are_the_linearised_ones():
    """A linear network: the drifts are 0; the flow's measured rate is `λ_min(H)` to 1e-3 (over the
    later half of the run the next mode is below the slowest by `exp(−(λ_2 − λ_1) t_w/2)`, here
    `< e^-5`); descent's (η = 0.12, stable: η λ_max < 2) is `−ln|1 − ηλ|/η` at the slowest mode: at
    `λ_min` where `η (λ_min + λ_max) < 2`, at `λ_max` on a seed where not. The eigenvalues of `H(W(0))`
    computed independently, through the Jacobian (`wideDIP.ntk`)."""
    spectra = []
    for key in seed_keys(QUADRATIC):
        with jax.enable_x64(True):
            problem = draw_problem(QUADRATIC, key)
            weights = initial_weights(QUADRATIC, key, problem)
            h = ntk(problem, weights, "identity", space="observation", implementation="jacobian")
        spectra.append(np.linalg.eigvalsh(np.asarray(h)))  # m ≤ n: all of H is on Im(A)
    smallest, largest = np.array(spectra)[:, 0], np.array(spectra)[:, -1]
    flow = simulate(
        QUADRATIC.replace(method="flow", steps=1000, step_size=0.1, rtol=1e-10, atol=1e-13, track_ntk=True),
        progress=False,
    )
    step = 0.12
    descent = simulate(QUADRATIC.replace(steps=3000, step_size=step, track_ntk=True), progress=False)
    for result in (flow, descent):
        assert np.all(result.converged)
        for name in KERNEL_DRIFTS:
            assert np.nanmax(getattr(result, name)) == 0.0
    np.testing.assert_allclose(flow.predicted_rate, smallest, rtol=1e-10)
    np.testing.assert_allclose(flow.measured_rate, smallest, rtol=1e-3)
    assert np.all(step * largest < 2)
    at_largest = step * (smallest + largest) > 2
    assert at_largest.any() and not at_largest.all()
    expected = -np.log(np.abs(1 - step * np.where(at_largest, largest, smallest))) / step
    np.testing.assert_allclose(descent.predicted_rate, expected, rtol=1e-10)
    np.testing.assert_allclose(descent.measured_rate, expected, rtol=1e-6)
    assert np.all(descent.measured_rate[at_largest] < 0.5 * -np.log(1 - step * smallest[at_largest]) / step)
    assert "measured/predicted 1  " in descent.summary() and "kernel drift     median final" in flow.summary()


def _descended_weights(config: Config, key) -> tuple:
    """The problem, `W(0)` and `W` after `config.steps` steps of descent on the full `W`, in NumPy (the
    paper's loop, written independently of the engine's reduced path)."""
    with jax.enable_x64(True):
        problem = draw_problem(config, key)
        weights = np.asarray(initial_weights(config, key, problem))
    a, v, u, y = (np.asarray(x) for x in (problem.operator, problem.layer, problem.input, problem.observation))
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    moved = weights
    for _ in range(config.steps):
        pre = moved @ u
        residual = a @ (v @ sigmoid(pre)) / np.sqrt(config.k) - y
        gradient = np.outer(sigmoid(pre) * (1 - sigmoid(pre)) * (v.T @ (a.T @ residual)) / np.sqrt(config.k), u)
        moved = moved - config.step_size * gradient
    return problem, weights, moved


def test_the_drift_is_that_of_two_kernels_computed_apart():
    """One seed: the drift at the last checkpoint, by the closed form and by the Jacobian route, equals
    `‖K(W_T) − K(W(0))‖_F / ‖K(W(0))‖_F` (and for `H`) from `wideDIP.ntk` through the Jacobian at `W(0)`
    and at the `W_T` of an independent NumPy descent."""
    config = Config(m=3, n=8, d=5, k=30, seeds=1, steps=150, stop_at_threshold=False, track_ntk=True, dtype="float64")
    problem, start, end = _descended_weights(config, seed_keys(config)[0])
    expected = []
    with jax.enable_x64(True):
        for space in ("signal", "observation"):
            before, after = (
                np.asarray(ntk(problem, jnp.asarray(w), "sigmoid", space=space, implementation="jacobian"))
                for w in (start, end)
            )
            expected.append(np.linalg.norm(after - before) / np.linalg.norm(before))
    assert expected[0] > 0.01  # the kernel moved
    for implementation in ("closed_form", "jacobian"):
        result = simulate(config.replace(ntk_implementation=implementation), progress=False)
        assert result.stop_step[0] == config.steps and result.network["ntk_implementation"] == implementation
        measured = [getattr(result, name)[0, -1] for name in KERNEL_DRIFTS]
        np.testing.assert_allclose(measured, expected, rtol=1e-8, err_msg=implementation)
        assert np.all(result.kernel_drift_K[0, :1] < 1e-15)  # at θ(0)


@eqx.filter_jit
def _closed_and_jacobian(probe, network, parameters, moved, u, operator):
    """The drifts of a closed-form `probe` and of the Jacobian route at `moved` against `parameters`."""
    features = network.features(moved, u), network.features(parameters, u)
    j, j0 = (jacobian(lambda p: network.apply(p, u), p) for p in (moved, parameters))  # noqa: B023
    return probe.extremes(*features), jacobian_extremes(j, j0, operator, jnp.linalg.norm(features[0] - features[1]))


@pytest.mark.parametrize("name, k", [("two_layer", 5), ("two_layer", 20), ("two_layer_both", 5)])
def test_closed_forms_of_the_drift_equal_the_jacobian_route(name, k):
    """The paper's network (`k < n`: `‖V diag(w) Vᵀ‖_F` from the `k × k` Gram matrix; `k > n`: from
    `K` itself) and two_layer_both (`K = M Mᵀ + c I`), at a point the dynamics can reach."""
    n, d = 8, 4
    with jax.enable_x64(True):
        keys = jax.random.split(jax.random.PRNGKey(1), 5)
        u = jax.random.normal(keys[0], (d,))
        u = u / jnp.linalg.norm(u)
        operator = jax.random.normal(keys[1], (3, n))
        step = jnp.outer(jax.random.normal(keys[2], (k,)), u)  # W moves along R^k uᵀ (§4)
        if name == "two_layer":
            layer = jax.random.normal(keys[3], (n, k))
            network = TwoLayer(n, d, k, "tanh", layer)
            parameters = network.init(keys[4])
            moved = parameters + 0.5 * step
            probe = KernelProbe(layer, operator @ layer / jnp.sqrt(k), "tanh")
        else:
            network = builtin_network(Config(n=n, d=d, k=k, network=name, activation="tanh"))
            parameters = network.init(keys[4])
            moved = (parameters[0] + 0.5 * step, parameters[1] + 0.3 * jax.random.normal(keys[3], (n, k)))
            probe = BothKernelProbe(operator, k, "tanh")
        closed, through_jacobian = _closed_and_jacobian(probe, network, parameters, moved, u, operator)
    for drift in KERNEL_DRIFTS:
        assert float(through_jacobian[drift]) > 0.01
        np.testing.assert_allclose(closed[drift], through_jacobian[drift], rtol=1e-10, err_msg=drift)


def test_measured_rate_fits_the_later_half_of_the_recorded_window():
    """`‖r‖² = e^{−2t} + e^{−10 t}` (L = ‖r‖²/2), checkpoints at t = 0, 0.5, …, 10: the window is the
    checkpoints above the threshold (t ≤ 7 for 1e-6) with t ≥ 7/2, where the slope of `−ln‖r‖` is 1
    up to `e^{−8 t}`; a seed stopped at t = 4 (NaN after): its window is t ∈ [2, 4]; a seed recorded
    at t = 0 only: NaN."""
    times = np.arange(0, 10.5, 0.5)
    loss = 0.5 * (np.exp(-2 * times) + np.exp(-10 * times))
    stopped = np.where(times <= 4, loss, np.nan)
    at_once = np.where(times == 0, loss, np.nan)
    rates = measured_rate(times, np.stack([loss, stopped, at_once]), 1e-6)
    window = (times >= 3.5) & (times <= 7)
    expected = np.polyfit(times[window], -0.5 * np.log(2 * loss[window]), 1)[0]
    whole = np.polyfit(times[times <= 7], -0.5 * np.log(2 * loss[times <= 7]), 1)[0]
    assert abs(expected - 1) < 1e-9 < 1e-2 < abs(whole - 1)  # the later half: the slowest mode alone
    np.testing.assert_allclose(rates[0], expected, rtol=1e-12)
    later = (times >= 2) & (times <= 4)
    np.testing.assert_allclose(rates[1], np.polyfit(times[later], -0.5 * np.log(2 * loss[later]), 1)[0], rtol=1e-12)
    assert np.isnan(rates[2])


def test_observers_survive_save_and_load_and_older_files_load_without_them(tmp_path):
    result = simulate(QUADRATIC.replace(activation="sigmoid", steps=200, seeds=2, track_ntk=True), progress=False)
    path = result.save(tmp_path / "run.npz")
    loaded = wideDIP.load(path)
    for name in ("measured_rate", "predicted_rate", *KERNEL_DRIFTS):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(result, name), err_msg=name)
    assert loaded.summary() == result.summary() and "rate of ||r||    median measured" in result.summary()
    assert json.loads(json.dumps(result.to_json()))["measured_rate"] == result.measured_rate.tolist()
    # as format 4 wrote it: no drift, no rates
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    header = json.loads(str(arrays.pop("header")))
    for name in ("measured_rate", "predicted_rate", *(f"ntk__{drift}" for drift in KERNEL_DRIFTS)):
        del arrays[name]
    np.savez(tmp_path / "old.npz", header=np.array(json.dumps({**header, "format": 4})), **arrays)
    old = wideDIP.load(tmp_path / "old.npz")
    assert old.measured_rate is None and old.kernel_drift_K is None and old.ntk.keys() == set(arrays_ntk(arrays))
    assert "rate of ||r||" not in old.summary() and "kernel drift" not in old.summary()
    # format 5 holds them: one missing is a damaged file
    np.savez(tmp_path / "cut.npz", header=np.array(json.dumps(header)), **arrays)
    with pytest.raises(ValueError, match=r"the array '(measured_rate|predicted_rate|ntk__kernel_drift_\w)' is missing"):
        wideDIP.load(tmp_path / "cut.npz")
    with pytest.raises(ValueError, match=r"kernel_drift_K needs Config.track_ntk=True"):
        dataclasses.replace(result, ntk=None).kernel_drift_K  # noqa: B018


def arrays_ntk(arrays: dict) -> list[str]:
    return [name.split("__", 1)[1] for name in arrays if name.startswith("ntk__")]
