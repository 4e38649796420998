"""SimulationResult: summary, JSON, save and load."""

import json

import numpy as np
import pytest

import wideDIP
from wideDIP import Config, simulate


@pytest.fixture(scope="module")
def result():
    return simulate(Config(m=4, n=12, d=6, k=40, seeds=6, steps=500, operator_scale="sqrt_n", step_size=2.0,
                           threshold=1e-5), progress=False)


def test_save_and_load_round_trip(result, tmp_path):
    path = result.save(tmp_path / "run")
    assert path.name == "run.npz" and path.exists()
    loaded = wideDIP.load(path)
    assert loaded.config == result.config
    assert loaded.environment == result.environment and "jax" in loaded.environment and "device" in loaded.environment
    for name in ("status", "steps_to_threshold", "stop_step", "initial_loss", "final_loss", "times", "loss",
                 "weight_distance", "signal_error", "observation_error"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(result, name))
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_summary_and_json_report_the_counts(result):
    counts = result.counts()
    assert sum(counts.values()) == 6 and counts["converged"] == result.converged.sum()
    summary = result.summary()
    assert f"converged        {counts['converged']}/6" in summary
    assert f"stalled {counts['stalled']}" in summary
    payload = json.loads(json.dumps(result.to_json()))
    assert payload["counts"] == counts and payload["config"]["k"] == 40
    assert payload["status"] == list(result.status)


def test_kernels_and_theory_survive_save_and_load(tmp_path):
    tracked = simulate(Config(m=3, n=5, d=4, k=20, seeds=3, steps=50, track_ntk=True), progress=False)
    loaded = wideDIP.load(tracked.save(tmp_path / "tracked.npz"))
    assert loaded.ntk.keys() == tracked.ntk.keys()
    for name in tracked.ntk:
        np.testing.assert_array_equal(loaded.ntk[name], tracked.ntk[name])
    np.testing.assert_array_equal(loaded.certified, tracked.certified)
    np.testing.assert_array_equal(loaded.theory.required_width, tracked.theory.required_width)
    assert loaded.summary() == tracked.summary()
