"""Files written before the redesign into components (tests/data/saved_by_0.1.0, made by its
`make.py` with the library as it was) load, hold what the library computes today for their
config, and a sweep directory resumes without recomputing a cell."""

import shutil
from pathlib import Path

import numpy as np
import pytest

import wideDIP

SAVED = Path(__file__).parent / "data" / "saved_by_0.1.0"


@pytest.mark.parametrize("name", ["simulation.npz", "flow.npz"])
def test_a_saved_simulation_loads_and_is_what_simulate_computes_today(name):
    saved = wideDIP.load(SAVED / name)
    today = wideDIP.simulate(saved.config, progress=False)
    np.testing.assert_array_equal(saved.status, today.status)
    for field in ("loss", "final_loss", "signal_error", "stability", "stop_time"):
        np.testing.assert_allclose(getattr(saved, field), getattr(today, field), rtol=1e-5, err_msg=field)
    if saved.theory is not None:
        np.testing.assert_allclose(saved.theory.early_stopping_time, today.theory.early_stopping_time, rtol=1e-5)
        np.testing.assert_allclose(saved.ntk["min_lambda_H"], today.ntk["min_lambda_H"], rtol=1e-4)
        np.testing.assert_allclose(saved.reconstructions, today.reconstructions, rtol=1e-5, atol=1e-6)


def test_a_saved_comparison_loads_and_is_what_compare_computes_today():
    saved = wideDIP.load(SAVED / "comparison.npz")
    today = wideDIP.compare(saved.config, step_sizes=saved.step_sizes, progress=False)
    for field in ("flow_loss", "descent_loss", "times"):
        np.testing.assert_allclose(getattr(saved, field), getattr(today, field), rtol=1e-5, err_msg=field)


def test_a_saved_sweep_loads_and_resumes_without_recomputing(tmp_path, monkeypatch):
    directory = shutil.copytree(SAVED / "sweep", tmp_path / "sweep")
    saved = wideDIP.load(directory)
    assert saved.computed.all()

    def refuse(*args, **kwargs):
        raise AssertionError("a stored cell was computed again")

    monkeypatch.setattr("wideDIP._experiments.sweep.simulate_batch", refuse)
    resumed = wideDIP.sweep(saved.base, saved.axes, directory, progress=False)
    np.testing.assert_array_equal(resumed.statistic("median_final_loss"), saved.statistic("median_final_loss"))
    alone = wideDIP.simulate(saved.base.replace(k=saved.axes["k"][1]), progress=False)
    np.testing.assert_allclose(saved.statistic("median_final_loss")[1], np.median(alone.final_loss), rtol=1e-5)
