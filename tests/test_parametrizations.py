"""`full` (W ∈ R^{k×d}, jax.grad) and `reduced` (docs/theory.md §4) give the same runs."""

import numpy as np
import pytest

from wideDIP import Config, simulate

SHAPES = [
    dict(m=5, n=30, d=7, k=20),  # k < n
    dict(m=8, n=8, d=3, k=40),  # m = n
    dict(m=6, n=4, d=1, k=12),  # m > n, d = 1
]


def run(config, parametrization):
    return simulate(config.replace(parametrization=parametrization), progress=False)


@pytest.mark.parametrize("shape", SHAPES)
def test_full_and_reduced_trajectories_agree_in_float64(shape):
    config = Config(
        **shape,
        seeds=3,
        steps=400,
        step_size=0.05,
        threshold=1e-10,
        noise=0.1,
        operator_scale="sqrt_n",
        dtype="float64",
    )
    full, reduced = run(config, "full"), run(config, "reduced")
    np.testing.assert_array_equal(full.status, reduced.status)
    np.testing.assert_array_equal(np.isnan(full.loss), np.isnan(reduced.loss))
    recorded = ~np.isnan(full.loss)
    assert recorded.sum() > 3 * 50
    relative = np.abs(full.loss[recorded] - reduced.loss[recorded]) / reduced.loss[recorded]
    assert relative.max() <= 1e-10
    np.testing.assert_allclose(full.weight_distance, reduced.weight_distance, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(full.final_signal_error, reduced.final_signal_error, rtol=1e-9)
    assert np.nanmax(reduced.weight_distance) > 0.01  # the runs moved


def test_converging_runs_agree_step_for_step():
    config = Config(
        m=3,
        n=6,
        d=5,
        k=80,
        seeds=3,
        steps=3000,
        operator_scale="sqrt_n",
        step_size=4.0,
        threshold=1e-9,
        dtype="float64",
    )
    full, reduced = run(config, "full"), run(config, "reduced")
    assert reduced.converged.sum() >= 2  # seed 2 draws an ill-conditioned A and stalls
    np.testing.assert_array_equal(full.steps_to_threshold, reduced.steps_to_threshold)
    np.testing.assert_allclose(full.final_loss, reduced.final_loss, rtol=1e-8)


def test_outcome_does_not_depend_on_d():
    """§4: z(0) = W(0) u ~ N(0, I_k) whatever d is; the whole run is the same."""
    config = Config(m=4, n=10, k=15, seeds=3, steps=300, step_size=0.1, operator_scale="sqrt_n", dtype="float64")
    reduced = [run(config.replace(d=d), "reduced") for d in (2, 50)]
    np.testing.assert_array_equal(reduced[0].loss, reduced[1].loss)
    full = [run(config.replace(d=d), "full") for d in (2, 50)]
    for result in full:
        np.testing.assert_allclose(result.loss, reduced[0].loss, rtol=1e-10)
