"""Gradient descent on all seeds (docs/theory.md §1, §6): outcomes, stopping, determinism."""

import jax
import numpy as np
import pytest

from wideDIP import Config, FunctionNetwork, checkpoint_steps, draw_problem, initial_weights, seed_keys, simulate

SMALL = Config(m=4, n=12, d=6, k=40, seeds=5, steps=2000, step_size=0.5, operator_scale="sqrt_n", threshold=1e-6)


def numpy_descent(config, seed):
    """The paper's loop written independently in NumPy on the full W: returns the losses
    of every iterate until the threshold (inclusive) or the budget."""
    with jax.enable_x64(config.dtype == "float64"):
        key = seed_keys(config)[seed]
        problem = jax.tree.map(np.asarray, draw_problem(config, key))
        weights = np.asarray(initial_weights(config, key, problem))
    assert config.activation == "sigmoid"
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    a, v, u, y = problem.operator, problem.layer, problem.input, problem.observation
    losses = []
    for _ in range(config.steps + 1):
        pre = weights @ u
        residual = a @ (v @ sigmoid(pre)) / np.sqrt(config.k) - y
        losses.append(0.5 * residual @ residual)
        if losses[-1] <= config.threshold or len(losses) == config.steps + 1:
            return np.array(losses)
        gradient = np.outer(sigmoid(pre) * (1 - sigmoid(pre)) * (v.T @ (a.T @ residual)) / np.sqrt(config.k), u)
        weights = weights - config.step_size * gradient


def test_matches_an_independent_numpy_loop():
    config = SMALL.replace(dtype="float64", seeds=3)
    result = simulate(config, progress=False)
    steps = checkpoint_steps(config.steps)
    for seed in range(config.seeds):
        reference = numpy_descent(config, seed)
        stop = len(reference) - 1
        assert result.stop_step[seed] == stop
        assert result.converged[seed] == (reference[-1] <= config.threshold)
        recorded = steps <= stop
        np.testing.assert_allclose(result.loss[seed, recorded], reference[steps[recorded]], rtol=1e-9)
        np.testing.assert_allclose(result.final_loss[seed], reference[-1], rtol=1e-9)
    assert result.converged.any()


def test_same_config_same_bits_and_seed_prefix():
    first = simulate(SMALL, progress=False)
    again = simulate(SMALL, progress=False)
    np.testing.assert_array_equal(first.loss, again.loss)
    np.testing.assert_array_equal(first.final_loss, again.final_loss)
    prefix = simulate(SMALL.replace(seeds=3), progress=False)  # test_cli.py's shape: nothing more to compile
    np.testing.assert_array_equal(prefix.final_loss, first.final_loss[:3])
    np.testing.assert_array_equal(prefix.steps_to_threshold, first.steps_to_threshold[:3])


def test_converged_agrees_with_the_recorded_losses():
    result = simulate(SMALL.replace(seeds=6), progress=False)  # test_result.py's shape
    assert 0 < result.converged.sum() < 6 or result.converged.all()
    steps = checkpoint_steps(SMALL.steps)
    for seed in range(6):
        if result.converged[seed]:
            stop = result.steps_to_threshold[seed]
            assert result.final_loss[seed] <= SMALL.threshold
            before = steps < stop
            assert np.all(result.loss[seed, before] > SMALL.threshold)
            assert np.all(np.isnan(result.loss[seed, steps > stop]))
        else:
            assert result.steps_to_threshold[seed] == -1
            assert result.final_loss[seed] > SMALL.threshold
    assert result.frequency == result.converged.mean()


def test_budget_spent_is_stalled():
    result = simulate(SMALL.replace(steps=3, seeds=3), progress=False)
    assert list(result.status) == ["stalled"] * 3
    assert list(result.stop_step) == [3, 3, 3]
    assert np.isfinite(result.loss).all()


@pytest.mark.parametrize("name, step_size", [("identity", 1e4), ("softplus", 1e6)])
def test_huge_step_size_diverges_without_an_exception(name, step_size):
    result = simulate(SMALL.replace(activation=name, step_size=step_size, seeds=3), progress=False)
    assert list(result.status) == ["diverged"] * 3
    assert np.all(result.steps_to_threshold == -1)
    assert np.all(~np.isfinite(result.final_loss) | (result.final_loss > 1e6 * result.initial_loss))
    assert np.all(result.stop_step < SMALL.steps)


def test_loss_is_non_increasing_for_a_small_step():
    """With η λ_max(H) far below 2 (A ~ N(0, 1/n)), descent decreases the loss at every step."""
    config = SMALL.replace(step_size=0.5, steps=3000, dtype="float64")
    result = simulate(config, progress=False)
    assert result.converged.any()
    for curve in result.loss:
        curve = curve[~np.isnan(curve)]
        assert np.all(np.diff(curve) <= 1e-12 * curve[:-1])
        assert curve[-1] < curve[0]


def test_end_errors_are_consistent_with_the_loss():
    """Noise-free: y = ȳ, so ‖A x − ȳ‖ = ‖r‖ = √(2 L) at the end."""
    result = simulate(SMALL.replace(dtype="float64"), progress=False)
    np.testing.assert_allclose(result.final_observation_error, np.sqrt(2 * result.final_loss), rtol=1e-8)
    assert np.all(result.final_signal_error > 0)
    assert result.times[-1] == SMALL.steps * SMALL.step_size and result.times[0] == 0
    assert result.loss.shape == (SMALL.seeds, len(result.times)) and 50 <= len(result.times) <= 100


def test_dtypes_follow_the_config():
    assert simulate(SMALL.replace(steps=2), progress=False).loss.dtype == np.float32
    assert simulate(SMALL.replace(steps=2, dtype="float64"), progress=False).loss.dtype == np.float64


NAN_NETWORK = FunctionNetwork(
    lambda key: jax.random.normal(key, (6, 4)), lambda theta, u: theta @ u * np.nan, name="nan_output"
)
"""A network of one's own whose output is NaN from the start (n = 6, d = 4)."""


def test_a_network_whose_output_is_nan_diverges_at_once(capsys):
    """docs/configuration.md, "Outcomes": a non-finite loss is `diverged`; nothing along the path is recorded, so the
    recovery statistics are NaN, and the summary says so without an exception. The progress bar, asked for,
    stays unprinted: the run ended within its delay."""
    result = simulate(Config(m=3, n=6, d=4, k=5, seeds=2, steps=20, noise=0.1), network=NAN_NETWORK, progress=True)
    assert capsys.readouterr().err == ""
    assert list(result.status) == ["diverged"] * 2 and list(result.stop_step) == [0, 0]
    assert np.isnan(result.oracle_time).all() and np.isnan(result.best_signal_error).all()
    assert np.isnan(result.best_reconstruction).all()
    summary = result.summary()
    assert "diverged 2" in summary
    assert "kernels at theta(0) are not finite" in summary and "sigma_0 = 0" not in summary  # why T is inf
    assert "> 2 for 0/2 seeds; not finite for 2" in summary  # NaN stability is not counted as stable


def test_the_progress_bar_ends_at_the_last_stop(monkeypatch):
    """When every seed stops early, the bar ends at the steps run (100 %), not short of the budget."""
    from wideDIP._integrate import integrate as _integrate

    bars = []

    class Recorded(_integrate.tqdm):
        def close(self):
            bars.append((self.n, self.total))
            super().close()

    monkeypatch.setattr(_integrate, "tqdm", Recorded)
    result = simulate(SMALL.replace(seeds=2, threshold=0.1), progress=True)
    assert result.converged.all() and result.stop_step.max() < SMALL.steps
    assert bars and set(bars) == {(result.stop_step.max(), result.stop_step.max())}  # (closed once or twice)


def test_the_summary_gives_the_exact_median_of_the_steps():
    """Two converged seeds: the median of their steps is a half-integer, printed as it is (not rounded)."""
    result = simulate(SMALL.replace(seeds=2, threshold=0.1), progress=False)  # the run above
    steps = result.steps_to_threshold[result.converged]
    assert steps.size == 2 and np.median(steps) % 1 == 0.5
    line = next(line for line in result.summary().splitlines() if line.startswith("median steps"))
    assert float(line.split()[2]) == np.median(steps)
    assert "eta=0.5" in result.summary().splitlines()[0]
