"""The problem and the reconstructions a result exposes (docs/theory.md §1, §7): `x̄`, `y`, `ȳ`, `A`,
`x(t)` at the checkpoints, at the best checkpoint and at the end; checked against the recorded
curves and the draws, and through `save` and `load`."""

import jax
import numpy as np
import pytest

import wideDIP
from wideDIP import Config, draw_problem, seed_keys, simulate

# test_noise.py's shape: seeds that stop at the threshold at different steps, with noise
NOISY = Config(m=4, n=12, d=6, k=200, seeds=3, steps=300, step_size=0.3, threshold=1e-6, dtype="float64", noise=0.05)
PROBLEM = ("signal", "observation", "clean_observation", "operator_matrix")
RECONSTRUCTIONS = ("reconstructions", "best_reconstruction", "final_reconstruction")


@pytest.fixture(scope="module")
def noisy():
    return simulate(NOISY, progress=False)


def _relative_errors(reconstructions, signal):
    """`‖x − x̄‖/‖x̄‖` along the last axis, `x̄` broadcast."""
    return np.linalg.norm(reconstructions - signal, axis=-1) / np.linalg.norm(signal, axis=-1)


def test_the_problem_is_the_seeds_draw(noisy):
    """`x̄`, `y`, `ȳ` and `A` are each seed's draw; `y − A x̄` is the noise, of norm `noise_norm`."""
    shapes = {"signal": (3, 12), "observation": (3, 4), "clean_observation": (3, 4), "operator_matrix": (3, 4, 12)}
    for name, shape in shapes.items():
        assert getattr(noisy, name).shape == shape, name
    with jax.enable_x64(True):
        for seed, key in enumerate(seed_keys(NOISY)):
            problem = jax.tree.map(np.asarray, draw_problem(NOISY, key))
            np.testing.assert_array_equal(noisy.signal[seed], problem.signal)
            np.testing.assert_array_equal(noisy.observation[seed], problem.observation)
            np.testing.assert_array_equal(noisy.operator_matrix[seed], problem.operator)
    residual = noisy.observation - np.einsum("smn,sn->sm", noisy.operator_matrix, noisy.signal)
    np.testing.assert_allclose(np.linalg.norm(residual, axis=1), noisy.noise_norm, rtol=1e-10)
    np.testing.assert_allclose(
        np.einsum("smn,sn->sm", noisy.operator_matrix, noisy.signal), noisy.clean_observation, rtol=1e-12, atol=1e-12
    )
    assert np.all(noisy.noise_norm > 0)


def test_the_reconstructions_give_the_recorded_curves(noisy):
    """‖x(t) − x̄‖/‖x̄‖ and ‖A x(t) − ȳ‖ recomputed from the exposed arrays are the curves, NaN after
    each seed's stop; the best and final reconstructions give `best_signal_error` and
    `final_signal_error`; `reconstruction_at` picks the checkpoint `at_time` does."""
    result = noisy
    assert result.reconstructions.shape == (3, result.times.size, 12)
    assert result.converged.any() and len(set(result.stop_step)) > 1  # stops at different steps
    recorded = ~np.isnan(result.loss)
    np.testing.assert_array_equal(~np.isnan(result.reconstructions).any(axis=2), recorded)
    np.testing.assert_array_equal(np.isnan(result.reconstructions).all(axis=2), ~recorded)
    errors = _relative_errors(result.reconstructions, result.signal[:, None])
    np.testing.assert_allclose(errors[recorded], result.signal_error[recorded], rtol=1e-10)
    observed = np.einsum("smn,scn->scm", result.operator_matrix, result.reconstructions)
    np.testing.assert_allclose(
        np.linalg.norm(observed - result.clean_observation[:, None], axis=2)[recorded],
        result.observation_error[recorded],
        rtol=1e-10,
    )
    for seed in range(NOISY.seeds):  # the last checkpoint before the stop
        last = np.flatnonzero(recorded[seed])[-1]
        assert result.times[last] <= result.stop_time[seed]
        assert errors[seed, last] == pytest.approx(result.signal_error[seed, last], rel=1e-10)
    np.testing.assert_allclose(
        _relative_errors(result.best_reconstruction, result.signal), result.best_signal_error, rtol=1e-10
    )
    np.testing.assert_allclose(
        _relative_errors(result.final_reconstruction, result.signal), result.final_signal_error, rtol=1e-10
    )
    at_oracle = result.reconstruction_at(result.oracle_time)
    np.testing.assert_allclose(
        np.linalg.norm(np.einsum("smn,sn->sm", result.operator_matrix, at_oracle) - result.clean_observation, axis=1),
        result.best_observation_error,
        rtol=1e-10,
    )
    moment = result.times[7] / 2 + result.times[8] / 2
    np.testing.assert_allclose(
        _relative_errors(result.reconstruction_at(moment), result.signal),
        result.at_time("signal_error", moment),
        rtol=1e-10,
    )


def test_reconstructions_survive_save_and_load(noisy, tmp_path):
    """With `reconstructions` and `operator_matrix`: every array back bit for bit; without, the small
    ones only (the large load as None), in a file smaller by their size."""
    full = noisy.save(tmp_path / "full.npz", reconstructions=True, operator_matrix=True)
    loaded = wideDIP.load(full)
    for name in PROBLEM + RECONSTRUCTIONS:
        np.testing.assert_array_equal(getattr(loaded, name), getattr(noisy, name), err_msg=name)
    np.testing.assert_array_equal(
        loaded.reconstruction_at(loaded.oracle_time), noisy.reconstruction_at(noisy.oracle_time)
    )
    small = noisy.save(tmp_path / "small.npz")
    loaded = wideDIP.load(small)
    assert loaded.reconstructions is None and loaded.operator_matrix is None
    for name in ("signal", "observation", "clean_observation", "best_reconstruction", "final_reconstruction"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(noisy, name), err_msg=name)
    large = (noisy.reconstructions.size + noisy.operator_matrix.size) * 8  # float64
    assert full.stat().st_size - small.stat().st_size >= large
    with pytest.raises(ValueError, match="reconstruction_at needs the reconstructions .* reconstructions=True"):
        loaded.reconstruction_at(loaded.oracle_time)
    with pytest.raises(ValueError, match="reconstructions must be True or False"):
        noisy.save(tmp_path / "bad.npz", reconstructions="yes")
