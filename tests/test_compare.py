"""`compare`: gradient descent against the flow on the time axis t = iteration × η."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wideDIP import Config, compare, draw_problem, initial_weights, network, seed_keys
from wideDIP._cli import main

SMOOTH = Config(m=3, n=8, d=4, k=30, seeds=3, steps=40, step_size=0.1, operator_scale="sqrt_n",
                threshold=1e-30, rtol=1e-10, atol=1e-12, dtype="float64")


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
    """η λ_max(A J Jᵀ Aᵀ) at W(0), with J = ∂g/∂W by jax.jacfwd on the network (4)."""
    config = SMOOTH.replace(seeds=2, steps=2)
    result = compare(config, step_sizes=(0.3,), progress=False)
    with jax.enable_x64(True):
        for s, key in enumerate(seed_keys(config)):
            problem = draw_problem(config, key)
            weights = initial_weights(config, key, problem)
            jacobian = jax.jacfwd(lambda w: network(w, problem.input, problem.layer, config.activation))(weights)
            j = problem.operator @ jacobian.reshape(config.n, -1)
            assert result.stability[0, s] == pytest.approx(float(0.3 * jnp.linalg.eigvalsh(j @ j.T)[-1]), rel=1e-10)


def test_papers_setting_large_n_is_beyond_the_stability_limit(tmp_path, capsys):
    """MATH.md §5: with A ~ N(0,1), λ_max(H(0)) ≈ C_φ'² (√n + √m)² grows with n; η = 1 is far
    beyond 2 at n = 500. The CLI writes the figure and the table."""
    figure = tmp_path / "compare.png"
    assert main(["compare", "--m", "10", "--n", "500", "--k", "500", "--seeds", "8", "--steps", "300",
                 "--step-sizes", "1", "--figure", str(figure), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert figure.exists() and figure.stat().st_size > 10_000
    row = next(line for line in out.splitlines() if line.split() and line.split()[0] == "1")
    assert float(row.split()[1]) > 2


def test_bad_step_sizes():
    with pytest.raises(ValueError, match="step_sizes"):
        compare(SMOOTH, step_sizes=(0.1, -1.0), progress=False)
