"""Compacted descent (docs/theory.md §6): the cells of a batch share one loop, each seed leaving it
when it stops and the next cells' seeds taking the free slots; a cell's results are the bits of
the cell run alone, whatever its neighbours, the slot counts and where the chunks end."""

import json

import numpy as np
import pytest

import wideDIP._experiments.sweep as sweep_module
import wideDIP._integrate.integrate as integrate_module
from wideDIP import Config, simulate, sweep
from wideDIP._experiments.batches import Batch, batch_of
from wideDIP._experiments.simulate import precision, prepare, simulate_batch
from wideDIP._integrate.integrate import Start, integrate_cells
from wideDIP._resolve import resolve_dynamics, stopping_rule

# test_sweep.py's shapes: within 1500 steps some seeds converge early, others stall
BASE = Config(m=4, d=6, k=40, n=30, seeds=6, steps=1500, operator_scale="sqrt_n", step_size=2.0, threshold=1e-5)
FIELDS = (
    "status",
    "stop_step",
    "steps_to_threshold",
    "initial_loss",
    "final_loss",
    "loss",
    "weight_distance",
    "signal_error",
    "final_signal_error",
    "final_reconstruction",
    "stability",
)


def _assert_same_bits(result, alone):
    for field in FIELDS:
        np.testing.assert_array_equal(getattr(result, field), getattr(alone, field), err_msg=field)
    assert result.counts() == alone.counts()


@pytest.fixture
def targets(monkeypatch):
    """The `stop_at` of every slot at each call of the discrete loop."""
    calls = []
    wrap = integrate_module.over_seeds

    def spied(function, batched):
        inner = wrap(function, batched)

        def call(*arguments):
            calls.append((np.asarray(arguments[1].outcome), np.asarray(arguments[2])))
            return inner(*arguments)

        return call

    monkeypatch.setattr(integrate_module, "over_seeds", spied)
    return calls


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_compacted_cells_are_the_bits_of_each_cell_alone(dtype, targets):
    """Three cells in one loop (12 + 4 seeds fill 16 slots; the third cell joins when four seeds have
    stopped): each cell's results equal those of `simulate` of that cell alone, bit for bit, in
    float64 and in float32 (XLA's CPU kernels compute a seed alike at every slot count used)."""
    cells = [BASE.replace(seed=seed, seeds=seeds, dtype=dtype) for seed, seeds in ((0, 12), (1, 4), (2, 4))]
    batch = batch_of(cells, range(3))
    assert batch.pad_to is None
    for config, result in zip(cells, simulate_batch(batch)):
        _assert_same_bits(result, simulate(config, progress=False))
    # the third cell joined while the others ran: one call moved slots towards different steps
    assert any(np.unique(stop_at[outcome == 0]).size > 1 for outcome, stop_at in targets)


def test_padded_cells_are_the_bits_of_each_cell_alone_at_the_padded_shape():
    """Cells of different `m` and `n`, padded to one shape, in one loop: each cell gives the bits of
    its one-cell run at that shape (float64; test_batches.py compares with the unpadded run)."""
    base = BASE.replace(operator_scale="none", step_size=0.5, dtype="float64", seeds=8)
    cells = [base.replace(m=m, n=n) for m, n in ((4, 30), (3, 12))]
    batch = batch_of(cells, range(2))
    assert batch.pad_to == (4, 30)
    for config, result in zip(cells, simulate_batch(batch)):
        (alone,) = simulate_batch(Batch((config,), batch.pad_to))
        _assert_same_bits(result, alone)


def test_chunk_boundaries_do_not_change_the_results():
    """The loop stopping for the host after every step gives the bits of chunks that run from one
    checkpoint to the next."""
    cells = [BASE.replace(seed=seed, seeds=seeds, steps=300, dtype="float64") for seed, seeds in ((0, 12), (1, 4))]
    batch = batch_of(cells, range(2))
    with precision(batch.shape):
        prepared = prepare(batch)
        start = Start(prepared.dynamics, prepared.problems, prepared.parameters, prepared.largest_eigenvalue)
        method, rule = resolve_dynamics(batch.shape), stopping_rule(batch.shape)
        runs = [
            dict(integrate_cells(method, rule, start, [c.seeds for c in cells], progress=False, chunk=chunk))
            for chunk in (1, None)
        ]
    for index in range(2):
        every_step, to_checkpoints = runs[0][index], runs[1][index]
        assert np.any(every_step.outcome == 1) and np.any(every_step.stop_step < 300)  # seeds left early
        for name in ("outcome", "stop_step", "crossing_step", "final_loss", "final_parameters"):
            np.testing.assert_array_equal(getattr(every_step, name), getattr(to_checkpoints, name), err_msg=name)
        np.testing.assert_array_equal(every_step.snapshots.loss, to_checkpoints.snapshots.loss)
        np.testing.assert_array_equal(every_step.snapshots.signal, to_checkpoints.snapshots.signal)
    with pytest.raises(ValueError, match="chunk must be an integer >= 1"):
        next(integrate_cells(method, rule, start, [12], progress=False, chunk=0))


def test_an_interrupted_compacted_sweep_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    """A sweep whose one batch dies just after its first cell is written (as a kill would leave it);
    resumed, the two other cells run in one loop and every cell ends with the uninterrupted bits."""
    axes = {"seed": [0, 1, 2]}
    reference = sweep(BASE, axes, tmp_path / "reference", progress=False)

    class Interrupted(Exception):
        pass

    write = sweep_module._write_cell

    def write_then_die(*arguments):
        write(*arguments)
        raise Interrupted

    with monkeypatch.context() as patch:
        patch.setattr(sweep_module, "_write_cell", write_then_die)
        with pytest.raises(Interrupted):
            sweep(BASE, axes, tmp_path / "interrupted", progress=False)
    assert len(list((tmp_path / "interrupted" / "cells").glob("cell-*.json"))) == 1
    batches = []
    run_batch = sweep_module.simulate_batch
    monkeypatch.setattr(
        sweep_module, "simulate_batch", lambda batch, **kw: batches.append(batch) or run_batch(batch, **kw)
    )
    resumed = sweep(BASE, axes, tmp_path / "interrupted", progress=False)
    assert [len(batch.configs) for batch in batches] == [2]  # the cells left, in one loop
    for index in np.ndindex(reference.shape):
        assert json.dumps(resumed.cells[index]) == json.dumps(reference.cells[index])
