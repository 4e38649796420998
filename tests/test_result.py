"""SimulationResult: summary, JSON, save and load."""

import json

import numpy as np
import pytest

import wideDIP
from wideDIP import Config, simulate


@pytest.fixture(scope="module")
def result():
    return simulate(
        Config(m=4, n=12, d=6, k=40, seeds=6, steps=500, operator_scale="sqrt_n", step_size=2.0, threshold=1e-5),
        progress=False,
    )


def test_save_and_load_round_trip(result, tmp_path):
    path = result.save(tmp_path / "run")
    assert path.name == "run.npz" and path.exists()
    loaded = wideDIP.load(path)
    assert loaded.config == result.config
    assert loaded.environment == result.environment and "jax" in loaded.environment and "device" in loaded.environment
    for name in (
        "status",
        "steps_to_threshold",
        "stop_step",
        "initial_loss",
        "final_loss",
        "times",
        "loss",
        "weight_distance",
        "signal_error",
        "observation_error",
    ):
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


def _rewritten(path, out, **changes):
    """The `.npz` at `path` written to `out` with some arrays replaced (None: removed)."""
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    for name, values in changes.items():
        if values is None:
            del arrays[name]
        else:
            arrays[name] = values
    np.savez(out, **arrays)
    return out


def test_a_file_with_an_array_cut_short_is_refused(result, tmp_path):
    """A damaged file is not read as data: every array's shape is checked against the header
    (seeds from its config, checkpoints from its times), naming the file and the array."""
    path = result.save(tmp_path / "run.npz")
    checkpoints = result.times.size
    cut = _rewritten(path, tmp_path / "cut.npz", loss=result.loss[:3])
    with pytest.raises(
        ValueError,
        match=rf"'.*cut\.npz' is damaged.*'loss' has shape \(3, {checkpoints}\), "
        rf"expected \(6, {checkpoints}\)",
    ):
        wideDIP.load(cut)
    per_seed = _rewritten(path, tmp_path / "per_seed.npz", final_loss=result.final_loss[:5])
    with pytest.raises(ValueError, match=r"'final_loss' has shape \(5,\), expected \(6,\)"):
        wideDIP.load(per_seed)
    times = _rewritten(path, tmp_path / "times.npz", times=result.times[:-1])
    with pytest.raises(ValueError, match=r"'.*times\.npz' is damaged.*'loss' has shape"):
        wideDIP.load(times)  # the curves no longer match the times
    signal = _rewritten(path, tmp_path / "signal.npz", signal=result.signal[:, :5])
    with pytest.raises(ValueError, match=r"'signal' has shape \(6, 5\), expected \(6, 12\)"):
        wideDIP.load(signal)
    missing = _rewritten(path, tmp_path / "missing.npz", status=None)
    with pytest.raises(ValueError, match=r"'.*missing\.npz' is damaged.*the array 'status' is missing"):
        wideDIP.load(missing)
    unknown = _rewritten(path, tmp_path / "unknown.npz", extra=np.zeros(6))
    with pytest.raises(ValueError, match=r"'.*unknown\.npz' is damaged.*holds an array 'extra'"):
        wideDIP.load(unknown)
    assert wideDIP.load(_rewritten(path, tmp_path / "intact.npz")).summary() == result.summary()


def test_a_comparison_file_with_an_array_cut_short_is_refused(tmp_path):
    """As for simulations, against `[step sizes, seeds, checkpoints]`."""
    from wideDIP import ComparisonResult

    config = Config(m=4, n=12, d=6, k=40, seeds=2, steps=4)
    times = np.array([[0.0, 1.0, 2.0, 4.0], [0.0, 0.5, 1.0, np.nan]])
    losses = np.ones((2, 2, 4))
    per_run = np.ones((2, 2))
    comparison = ComparisonResult(
        config=config,
        step_sizes=np.array([1.0, 0.5]),
        times=times,
        flow_loss=losses,
        descent_loss=losses,
        max_loss_gap=per_run,
        max_relative_loss_gap=per_run,
        max_state_gap=per_run,
        stability=per_run,
        status=np.full((2, 2), "stalled"),
        flow_status=np.full(2, "stalled"),
        wall_time=1.0,
        environment={},
    )
    path = comparison.save(tmp_path / "comparison.npz")
    np.testing.assert_array_equal(wideDIP.load(path).descent_loss, losses)
    cut = _rewritten(path, tmp_path / "cut.npz", descent_loss=losses[:, :1])
    with pytest.raises(
        ValueError,
        match=r"'.*cut\.npz' is damaged.*'descent_loss' has shape \(2, 1, 4\), "
        r"expected \(2, 2, 4\)",
    ):
        wideDIP.load(cut)
    one_step = _rewritten(path, tmp_path / "one_step.npz", step_sizes=np.array([1.0]))
    with pytest.raises(ValueError, match=r"'times' has shape \(2, 4\), expected \(1, 4\)"):
        wideDIP.load(one_step)
    flat = _rewritten(path, tmp_path / "flat.npz", flow_status=np.array("stalled"))
    with pytest.raises(ValueError, match=r"'flow_status' has shape \(\), expected the axes \[seeds\]"):
        wideDIP.load(flat)


def test_at_time_refuses_moments_of_another_length(result):
    with pytest.raises(
        ValueError,
        match=r"at_time: moments must be one time or one per seed \(shape \(6,\)\), "
        r"got shape \(3,\)",
    ):
        result.at_time("signal_error", np.ones(3))
    with pytest.raises(ValueError, match=r"reconstruction_at: moments must be one time or one per seed"):
        result.reconstruction_at(np.ones((6, 2)))
    with pytest.raises(ValueError, match=r"at_time: moments must be one time or one per seed .* got 'soon'"):
        result.at_time("loss", "soon")
    np.testing.assert_array_equal(result.at_time("loss", np.zeros(6)), result.loss[:, 0])
