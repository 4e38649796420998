"""SimulationResult: summary, JSON, save and load."""

import json

import numpy as np
import pytest

import wideDIP
from wideDIP import Config, simulate
from wideDIP._networks.kernels import TRACKED_STATISTICS


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
    path = tmp_path / "tracked.npz"
    one_short = _rewritten(path, tmp_path / "one_short.npz", ntk__max_lambda_H=None)
    with pytest.raises(ValueError, match=r"'.*one_short\.npz' is damaged.*the array 'ntk__max_lambda_H' is missing"):
        wideDIP.load(one_short)
    unknown = _rewritten(path, tmp_path / "unknown.npz", ntk__max_lambda_K=tracked.ntk["min_lambda_K"])
    with pytest.raises(ValueError, match=r"holds an array 'ntk__max_lambda_K' that a saved simulation does not have"):
        wideDIP.load(unknown)
    # every kernel and theory array gone: the header's track_ntk says they were written
    stripped = {name: None for name in np.load(path).files if name.startswith(("ntk__", "theory__"))}
    with pytest.raises(ValueError, match=r"the array '(ntk|theory)__\w+' is missing"):
        wideDIP.load(_rewritten(path, tmp_path / "stripped.npz", **stripped))


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
    (seeds from its config, checkpoints the length most of its curves share), naming the file and the array."""
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
    with pytest.raises(ValueError, match=rf"'.*times\.npz' is damaged.*'times' has shape \({checkpoints - 1},\)"):
        wideDIP.load(times)  # the one array cut short is named, not a curve that no longer matches it
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


def _header(path, **changes):
    """The header of the `.npz` at `path` with some entries changed (None: removed), as an array for `_rewritten`."""
    with np.load(path) as data:
        header = json.loads(str(data["header"]))
    header.update(changes)
    return np.array(json.dumps({name: value for name, value in header.items() if value is not None}))


def test_a_file_without_an_array_its_format_always_holds_is_refused(result, tmp_path):
    """A file of the current format holds every array that `save` always writes (all but the
    reconstructions and the operator, written when asked); one of formats 2 and 3 those they wrote,
    without the problem and the reconstructions that format 4 added."""
    path = result.save(tmp_path / "run.npz")
    for name in ("signal", "observation", "noise_norm", "final_reconstruction", "signal_error", "bound_holds"):
        missing = _rewritten(path, tmp_path / f"no_{name}.npz", **{name: None})
        with pytest.raises(ValueError, match=rf"'.*no_{name}\.npz' is damaged.*the array '{name}' is missing"):
            wideDIP.load(missing)
    added_in_format_4 = ("signal", "observation", "clean_observation", "best_reconstruction", "final_reconstruction")
    for file_format, kind in ((3, "simulation"), (2, None)):
        older = dict.fromkeys(added_in_format_4) | {"header": _header(path, format=file_format, kind=kind)}
        loaded = wideDIP.load(_rewritten(path, tmp_path / f"format_{file_format}.npz", **older))
        assert loaded.signal is None and loaded.summary() == result.summary()
        np.testing.assert_array_equal(loaded.best_signal_error, result.best_signal_error)
        missing = _rewritten(path, tmp_path / f"format_{file_format}_cut.npz", **older, noise_norm=None)
        with pytest.raises(ValueError, match=r"the array 'noise_norm' is missing"):
            wideDIP.load(missing)


def test_an_array_of_the_wrong_type_is_refused(result, tmp_path):
    """Numbers where numbers are saved, strings for the outcomes, int8 for `bound_holds`: an array of
    another type is refused naming the file, the array and the type expected, not read into a plot."""
    path = result.save(tmp_path / "run.npz")
    wrong = {
        "loss": (result.loss.astype(str), r"'loss' has dtype <U\d+ \(kind 'U'\), expected numbers"),
        "status": (np.zeros(6), r"'status' has dtype float64 \(kind 'f'\), expected strings"),
        "bound_holds": (np.full(6, np.nan), r"'bound_holds' has dtype float64 \(kind 'f'\), expected int8"),
    }
    for name, (values, message) in wrong.items():
        changed = _rewritten(path, tmp_path / f"wrong_{name}.npz", **{name: values})
        with pytest.raises(ValueError, match=rf"'.*wrong_{name}\.npz' is damaged.*{message}"):
            wideDIP.load(changed)
    objects = _rewritten(path, tmp_path / "objects.npz", loss=result.loss.astype(object))
    with pytest.raises(
        ValueError, match=r"'.*objects\.npz' is damaged.*its array 'loss' cannot be read \(Object arrays"
    ):
        wideDIP.load(objects)


def _comparison(**fields):
    """A comparison of 2 step sizes, 2 seeds and 4 checkpoints, built directly (nothing runs)."""
    from wideDIP import ComparisonResult

    per_run = np.ones((2, 2))
    return ComparisonResult(
        config=Config(m=4, n=12, d=6, k=40, seeds=2, steps=4),
        step_sizes=np.array([1.0, 0.5]),
        times=np.array([[0.0, 1.0, 2.0, 4.0], [0.0, 0.5, 1.0, np.nan]]),
        flow_loss=np.ones((2, 2, 4)),
        descent_loss=np.ones((2, 2, 4)),
        max_loss_gap=per_run,
        max_relative_loss_gap=per_run,
        max_state_gap=per_run,
        stability=per_run,
        status=np.full((2, 2), "stalled"),
        flow_status=np.full(2, "stalled"),
        wall_time=1.0,
        environment={},
        **fields,
    )


def test_a_comparison_file_with_an_array_cut_short_is_refused(tmp_path):
    """As for simulations, against `[step sizes, seeds, checkpoints]`."""
    losses = np.ones((2, 2, 4))
    path = _comparison().save(tmp_path / "comparison.npz")
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
    numbered = _rewritten(path, tmp_path / "numbered.npz", flow_status=np.zeros(2))
    with pytest.raises(ValueError, match=r"'flow_status' has dtype float64 \(kind 'f'\), expected strings"):
        wideDIP.load(numbered)


def test_a_comparison_file_missing_one_kernel_statistic_is_refused(tmp_path):
    """A comparison that tracked the kernels holds all the statistics of each leg (the drifts since format 5)."""
    statistics = TRACKED_STATISTICS
    kernels = {name: np.ones((2, 2, 4)) for name in statistics}
    path = _comparison(flow_ntk=kernels, descent_ntk=kernels).save(tmp_path / "tracked.npz")
    assert wideDIP.load(path).descent_ntk.keys() == set(statistics)
    one_short = _rewritten(path, tmp_path / "one_short.npz", descent_ntk__jacobian_lipschitz_ratio=None)
    with pytest.raises(
        ValueError, match=r"'.*one_short\.npz' is damaged.*the array 'descent_ntk__jacobian_lipschitz_ratio' is missing"
    ):
        wideDIP.load(one_short)


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
