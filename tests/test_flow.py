"""Gradient flow (3) with diffrax: a closed form, descent as its Euler scheme, outcomes."""

import jax
import numpy as np
import pytest

from wideDIP import Config, FunctionNetwork, checkpoint_steps, simulate
from wideDIP._experiments.simulate import precision, prepare


def linear_flow_losses(config):
    """identity φ: z' = −Bᵀ(B z − y). With BᵀB = Q Λ Qᵀ, z(t) = z0 − Q f(Λ, t) Qᵀ (BᵀB z0 − Bᵀ y),
    f(λ, t) = (1 − e^{−λt})/λ (= t for λ = 0); returns the loss at the result's times."""
    with precision(config):
        prepared = prepare(config)
    mixing = np.asarray(prepared.dynamics.mixing)
    observation = np.asarray(prepared.dynamics.observation)
    start = np.asarray(prepared.parameters)
    times = checkpoint_steps(config.steps) * config.horizon / config.steps
    losses = np.empty((config.seeds, times.size))
    for s in range(config.seeds):
        b, y, z0 = mixing[s], observation[s], start[s]
        eigenvalues, q = np.linalg.eigh(b.T @ b)
        gradient0 = q.T @ (b.T @ (b @ z0 - y))
        for c, t in enumerate(times):
            safe = np.where(eigenvalues > 1e-12, eigenvalues, 1.0)
            factor = np.where(eigenvalues > 1e-12, -np.expm1(-eigenvalues * t) / safe, t)
            z = z0 - q @ (factor * gradient0)
            losses[s, c] = 0.5 * np.sum((b @ z - y) ** 2)
    return losses


def test_linear_flow_matches_its_closed_form():
    config = Config(
        m=4,
        n=9,
        d=3,
        k=7,
        seeds=3,
        steps=100,
        t_max=6.0,
        activation="identity",
        operator_scale="sqrt_n",
        method="flow",
        rtol=1e-11,
        atol=1e-13,
        threshold=1e-30,
        parametrization="reduced",
        dtype="float64",
    )
    result = simulate(config, progress=False)
    assert list(result.status) == ["stalled"] * 3  # ran the whole horizon
    np.testing.assert_allclose(result.loss, linear_flow_losses(config), rtol=1e-6)
    assert np.all(result.loss[:, -1] < 0.2 * result.loss[:, 0])  # it moved
    # the summary: the horizon and the flow's stiffness, none of descent's step or its "> 2" criterion
    summary = result.summary()
    assert "flow (auto, rtol=1e-11, atol=1e-13)  horizon t=6  threshold" in summary.splitlines()[0]
    assert "eta=" not in summary and "eta*" not in summary and "> 2" not in summary
    line = next(line for line in summary.splitlines() if line.startswith("stiffness"))
    assert line.split()[3] == f"{np.median(result.stability / config.step_size):.3g}"


@pytest.mark.parametrize("parametrization", ["reduced", "full"])
def test_euler_with_step_eta_is_gradient_descent(parametrization):
    config = Config(
        m=4,
        n=12,
        d=6,
        k=40,
        seeds=3,
        steps=1500,
        step_size=0.5,
        operator_scale="sqrt_n",
        threshold=1e-6,
        parametrization=parametrization,
        dtype="float64",
    )
    descent = simulate(config, progress=False)
    euler = simulate(config.replace(method="flow", solver="euler"), progress=False)
    assert descent.converged.any()
    np.testing.assert_array_equal(euler.status, descent.status)
    np.testing.assert_array_equal(euler.stop_step, descent.stop_step)
    np.testing.assert_allclose(euler.stop_time, descent.stop_time, rtol=1e-12)
    np.testing.assert_array_equal(np.isnan(euler.loss), np.isnan(descent.loss))
    np.testing.assert_allclose(euler.loss, descent.loss, rtol=1e-9)
    np.testing.assert_allclose(euler.final_loss, descent.final_loss, rtol=1e-9)
    # the summary names Euler's step, none of the tolerances it does not use
    assert f"{parametrization} flow (euler, step 0.5)  horizon t=750  " in euler.summary().splitlines()[0]
    assert "rtol" not in euler.summary() and "eta=" not in euler.summary() and "eta*" not in euler.summary()


def test_full_and_reduced_flows_agree():
    config = Config(
        m=5,
        n=30,
        d=7,
        k=20,
        seeds=3,
        steps=100,
        t_max=20.0,
        operator_scale="sqrt_n",
        method="flow",
        rtol=1e-10,
        atol=1e-12,
        threshold=1e-12,
        noise=0.1,
        dtype="float64",
    )
    full = simulate(config.replace(parametrization="full"), progress=False)
    reduced = simulate(config.replace(parametrization="reduced"), progress=False)
    np.testing.assert_array_equal(full.status, reduced.status)
    np.testing.assert_allclose(full.loss, reduced.loss, rtol=1e-7)
    np.testing.assert_allclose(full.weight_distance, reduced.weight_distance, rtol=1e-7, atol=1e-10)


def test_flow_converges_in_the_papers_setting_and_stops_under_the_threshold():
    config = Config(m=10, n=100, d=500, k=500, method="flow")
    result = simulate(config, progress=False)
    assert result.converged.sum() >= 45
    assert np.all(result.final_loss[result.converged] <= config.threshold)
    assert np.all(result.time_to_threshold[result.converged] == result.stop_time[result.converged])
    assert np.all(result.stop_time[result.converged] < config.horizon)
    assert np.all(result.solver_steps >= result.stop_step) and np.all(result.stop_step > 0)
    recorded = result.times[None, :] <= result.stop_time[:, None]
    assert np.array_equal(~np.isnan(result.loss), recorded)


def test_step_budget_is_a_solver_failure_not_an_exception():
    result = simulate(
        Config(m=4, n=12, d=6, k=40, seeds=3, method="flow", solver="tsit5", max_solver_steps=2), progress=False
    )
    assert list(result.status) == ["solver_failed"] * 3
    assert np.all(result.steps_to_threshold == -1) and np.all(np.isnan(result.time_to_threshold))


def test_stiff_solver_runs_the_flow():
    config = Config(
        m=4,
        n=12,
        d=6,
        k=40,
        seeds=2,
        steps=100,
        t_max=200.0,
        operator_scale="sqrt_n",
        method="flow",
        threshold=1e-6,
        dtype="float64",
    )
    explicit = simulate(config, progress=False)
    implicit = simulate(config.replace(solver="kvaerno5"), progress=False)
    np.testing.assert_array_equal(implicit.status, explicit.status)
    both = ~np.isnan(explicit.loss) & ~np.isnan(implicit.loss)
    np.testing.assert_allclose(implicit.loss[both], explicit.loss[both], rtol=1e-4)


# Fig. 1's stiff corner in miniature: A ~ N(0,1), m = 10, n = 500, k = 10, where λ_max(H(0)) ≈ 50–80
# pins Tsit5's step near 3/λ_max (docs/theory.md §10). Horizon and step budget are shrunk from
# fig1's (25000, 100000) to (100, 2000): the predicted Tsit5 cost T λ_max(H(0))/3 then straddles the
# budget, so that one run has seeds predicted stiff, seeds predicted not, and seeds that Tsit5
# leaves short of the horizon.
STIFF = Config(m=10, n=500, k=10, seeds=5, method="flow", t_max=100.0, max_solver_steps=2000)


def reference_losses(config, result):
    """The loss at the result's checkpoint times, from SciPy's Radau (float64, rtol 1e-10) on the
    reduced flow z' = −φ'(z) ⊙ Bᵀ(B φ(z) − y) of each seed (§4): independent of diffrax."""
    from scipy.integrate import solve_ivp

    with precision(config):
        prepared = prepare(config)
    losses = np.full(result.loss.shape, np.nan)
    for s in range(config.seeds):
        b, y, z0 = (
            np.asarray(a[s], np.float64)
            for a in (prepared.dynamics.mixing, prepared.dynamics.observation, prepared.parameters)
        )

        def field(t, z):
            phi = 1 / (1 + np.exp(-z))
            return -(phi * (1 - phi)) * ((b @ phi - y) @ b)  # noqa: B023 (solved within the iteration)

        until = result.times <= result.stop_time[s]
        solution = solve_ivp(
            field, (0.0, result.stop_time[s]), z0, method="Radau", t_eval=result.times[until], rtol=1e-10, atol=1e-12
        )
        phi = 1 / (1 + np.exp(-solution.y))
        losses[s, until] = 0.5 * np.sum((b @ phi - y[:, None]) ** 2, axis=0)
    return losses


def test_auto_on_fig1s_stiff_corner():
    """One test, not three, so that the cell (four compilations, Kvaerno5's the largest) is computed
    once whatever the test process: CI's time is short.

    1. `solver="auto"` (the default) carries every seed to the horizon where Tsit5 on the same
       budget ends some `solver_failed`.
    2. The stiff path (Tsit5 for 2 % of the budget, then Kvaerno5 in float64; or Tsit5's whole
       budget, then Kvaerno5) and the plain Tsit5 seeds alike follow an independent float64
       solution: the loss at every checkpoint within 1e-5 relative of SciPy's Radau at rtol 1e-10
       (measured: 3e-7).
    3. A seed predicted non-stiff that Tsit5 finishes within its budget has exactly Tsit5's results,
       although it ran in the one vmapped solve beside seeds on a smaller budget."""
    assert STIFF.solver == "auto"
    auto = simulate(STIFF, progress=False)
    explicit = simulate(STIFF.replace(solver="tsit5"), progress=False)

    failed = explicit.status == "solver_failed"
    assert failed.sum() >= 2 and np.all(explicit.stop_time[failed] < STIFF.horizon)
    assert list(auto.status) == ["stalled"] * STIFF.seeds  # integrated to the horizon, never converging
    np.testing.assert_array_equal(auto.stop_time, STIFF.horizon)
    assert np.isfinite(auto.loss).all()

    np.testing.assert_allclose(auto.loss, reference_losses(STIFF, auto), rtol=1e-5)

    stiff = STIFF.horizon * auto.stability / 3 > STIFF.max_solver_steps  # step_size = 1: stability = λ_max
    kept = ~stiff & ~failed
    assert stiff.any() and kept.any()
    for field in (
        "status",
        "loss",
        "weight_distance",
        "signal_error",
        "final_loss",
        "stop_time",
        "stop_step",
        "solver_steps",
        "final_signal_error",
    ):
        np.testing.assert_array_equal(getattr(auto, field)[kept], getattr(explicit, field)[kept], err_msg=field)
    assert not np.array_equal(auto.solver_steps[~kept], explicit.solver_steps[~kept])  # the others went on


def test_a_network_whose_output_is_nan_diverges_at_once():
    """docs/configuration.md, "Outcomes": as under descent, a network whose output is NaN from the start ends
    `diverged` at t = 0, with nothing recorded along the path (no solver step was taken: not
    diffrax's fill value either)."""
    network = FunctionNetwork(
        lambda key: jax.random.normal(key, (6, 4)), lambda theta, u: theta @ u * np.nan, name="nan_output"
    )
    result = simulate(Config(m=3, n=6, d=4, k=5, seeds=2, steps=20, method="flow"), network=network, progress=False)
    assert list(result.status) == ["diverged"] * 2 and list(result.stop_time) == [0, 0]
    assert np.isnan(result.loss).all() and np.isnan(result.reconstructions).all()
    assert np.isnan(result.oracle_time).all() and "diverged 2" in result.summary()
