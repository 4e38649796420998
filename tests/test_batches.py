"""Cells that share a compiled shape (docs/theory.md §4, §6): the padded draws are the flat draw's
numbers bit for bit, a padded cell gives the statistics of the cell run alone, cells grouped
without padding give the same bits, and a sweep compiles its setup once per batch."""

import jax
import numpy as np
import pytest

from wideDIP import Config, simulate, sweep
from wideDIP._experiments.batches import batch_key, batch_of, group_cells
from wideDIP._experiments.simulate import simulate_batch
from wideDIP._problems.problem import _gaussian_blocks
from wideDIP._resolve import problem_law, seed_keys

BASE = Config(m=4, n=12, d=6, k=24, seeds=5, steps=600, operator_scale="none", step_size=0.05, threshold=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("true, padded", [((3, 5), (7, 9)), ((10, 40), (10, 400)), ((4, 4), (4, 4))])
def test_padded_draws_are_the_flat_draws_numbers_with_zeros_around(dtype, true, padded):
    config = Config(m=true[0], n=true[1], k=6, d=8, dtype=dtype)
    with jax.enable_x64(dtype == "float64"):
        key = seed_keys(config)[3]
        law = problem_law(config)
        flat = _gaussian_blocks(law, key)
        wide = jax.jit(_gaussian_blocks)(law.padded(*padded), key)
    for name, block in flat.items():
        block, padded_block = np.asarray(block), np.asarray(wide[name])
        inner = tuple(slice(0, size) for size in block.shape)
        np.testing.assert_array_equal(padded_block[inner], block, err_msg=name)
        assert np.count_nonzero(padded_block) == np.count_nonzero(block), name  # zeros in the padding


def test_cells_group_by_compiled_shape():
    cells = [BASE.replace(n=n, k=k, seed=s) for k in (24, 48) for n in (6, 12) for s in (0, 1)]
    groups = group_cells(cells)
    assert sorted(map(sorted, groups)) == [[0, 1, 2, 3], [4, 5, 6, 7]]  # by k; n padded, seed batched
    assert batch_of(cells, groups[0]).shape.n == 12
    # m is padded within a factor 2.5 only (each step costs ∝ m): Figure 2's m grid in three batches
    grid = [BASE.replace(m=m) for m in (100, 2, 50, 5, 20, 10)]
    assert sorted(sorted(grid[i].m for i in group) for group in group_cells(grid)) == [[2, 5], [10, 20], [50, 100]]
    # what cannot be padded exactly keeps its own shape: noise needs the spectra of the true A
    noisy = [BASE.replace(n=n, noise=0.1) for n in (6, 12)]
    assert len(group_cells(noisy)) == 2 and len(group_cells(noisy, pad=False)) == 2
    assert batch_key(BASE.replace(noise=0.1), None) == batch_key(BASE.replace(noise=0.3), None)
    # so does the alignment (its eigenvectors would span the padding), and a rescaled or image signal
    for unpadded in ({"alignment_rank": 2}, {"signal_norm": 3.0}):
        assert len(group_cells([BASE.replace(n=n, **unpadded) for n in (6, 12)])) == 2, unpadded


STATISTICS = ("final_loss", "final_signal_error", "sigma_A", "norm_A", "stability", "loss", "signal_error")
PROBLEM = ("signal", "observation", "clean_observation", "operator_matrix")
RECONSTRUCTIONS = ("reconstructions", "best_reconstruction", "final_reconstruction")


def test_a_padded_cell_gives_the_statistics_of_the_cell_alone():
    """Cells that differ in `n` and `m` run padded to the largest: each result's statistics, and its
    problem and reconstructions at the cell's own sizes (docs/theory.md §1, §7), are the cell's alone."""
    cells = [BASE.replace(m=m, n=n, dtype="float64") for m, n in ((4, 12), (3, 7), (2, 5))]
    assert group_cells(cells) == [[0, 1, 2]]
    batch = batch_of(cells, range(3))
    assert batch.pad_to == (4, 12) and batch.padded
    for config, padded in zip(cells, simulate_batch(batch)):  # float64: only the order of sums differs
        alone = simulate(config, progress=False)
        np.testing.assert_array_equal(padded.status, alone.status)
        np.testing.assert_array_equal(padded.steps_to_threshold, alone.steps_to_threshold)
        for field in (*STATISTICS, "measured_rate", "predicted_rate"):  # λ_min(H(0)) on Im(A) seen through the padding
            np.testing.assert_allclose(
                getattr(padded, field), getattr(alone, field), rtol=1e-9, atol=1e-15, err_msg=field
            )
        for name in PROBLEM + RECONSTRUCTIONS:
            assert getattr(padded, name).shape == getattr(alone, name).shape, name
            np.testing.assert_allclose(getattr(padded, name), getattr(alone, name), rtol=1e-9, atol=1e-15, err_msg=name)
        np.testing.assert_array_equal(padded.signal, alone.signal)


def test_cells_grouped_without_padding_give_the_bits_of_the_cell_alone():
    cells = [BASE.replace(seed=seed, noise=noise) for seed, noise in ((0, 0.1), (7, 0.1), (7, 0.3))]
    assert len(group_cells(cells)) == 1
    for config, grouped in zip(cells, simulate_batch(batch_of(cells, range(3)))):
        alone = simulate(config, progress=False)
        for field in ("loss", "final_loss", "stop_step", "signal_error", "stability", "early_stopping_time"):
            np.testing.assert_array_equal(getattr(grouped, field), getattr(alone, field), err_msg=field)


def test_a_sweep_compiles_its_setup_once_per_batch(setup_traces, tmp_path):
    result = sweep(BASE, {"n": [5, 8, 12], "m": [2, 4]}, tmp_path, progress=False)
    assert len(setup_traces) == 1  # six cells, one padded shape
    again = sweep(BASE, {"n": [5, 8, 12], "m": [2, 4]}, tmp_path, progress=False)  # resumes: nothing to run
    assert [c["counts"] for c in again.cells.ravel()] == [c["counts"] for c in result.cells.ravel()]
    unpadded = sweep(BASE, {"n": [5, 12], "m": [4]}, progress=False, pad=False)  # two shapes, two compilations
    np.testing.assert_array_equal(unpadded.frequency[:, 0], result.frequency[[0, 2], 1])
