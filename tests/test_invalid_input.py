"""Every invalid input is a `ValueError` that names the argument and what is allowed; on the
command line, a one-line `error:` with exit code 2, no traceback, and no computation started."""

import json
import re

import jax
import numpy as np
import pytest

import wideDIP
from wideDIP import Config
from wideDIP._cli import main

TINY = Config(m=2, n=3, d=2, k=4, seeds=2, steps=3)


@pytest.fixture(scope="module")
def tiny_result():
    return wideDIP.simulate(TINY, progress=False)


def _not_a_result(tmp_path):
    (tmp_path / "fig.png").write_bytes(b"\x89PNG not really")
    return wideDIP.load(tmp_path / "fig.png")


def _foreign_npz(tmp_path):
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    return wideDIP.load(tmp_path / "other.npz")


def _cache_on_a_file(tmp_path):
    (tmp_path / "file").write_text("")
    return wideDIP.enable_compilation_cache(tmp_path / "file")


# (what is called, a pattern the message must contain: the argument's name and what is allowed)
API_ROWS = {
    "Config(foo=1)": (lambda tmp, r: Config(foo=1), r"no field 'foo'; fields are m, n"),
    "Config(too many positional)": (lambda tmp, r: Config(*range(100)), r"at most \d+ positional"),
    "Config(3, m=3)": (lambda tmp, r: Config(3, m=3), r"'m' given both by position and by name"),
    "Config.from_dict(list)": (lambda tmp, r: Config.from_dict([1]), r"from_dict expects a dict"),
    "preset(name, n=5)": (
        lambda tmp, r: wideDIP.preset("fig1-quick", n=5),
        r"n is an axis .* list of values .*n=\[5\]",
    ),
    "preset(name, foo=1)": (lambda tmp, r: wideDIP.preset("fig1-quick", foo=1), r"no field 'foo'"),
    "preset(unknown)": (lambda tmp, r: wideDIP.preset("fig3"), r"preset must be one of \('fig1'"),
    "sweep(cfg, {'k': 10})": (lambda tmp, r: wideDIP.sweep(TINY, {"k": 10}), r"axis 'k' takes a list of values"),
    "sweep(cfg, {'k': 'ab'})": (lambda tmp, r: wideDIP.sweep(TINY, {"k": "ab"}), r"axis 'k' takes a list of values"),
    "sweep(cfg, list of pairs)": (lambda tmp, r: wideDIP.sweep(TINY, [("k", [1])]), r"axes must be a dict"),
    "sweep(cfg, {'k': []})": (lambda tmp, r: wideDIP.sweep(TINY, {"k": []}), r"axis 'k' has no values"),
    "sweep(cfg, {'k': [20, 20]})": (
        lambda tmp, r: wideDIP.sweep(TINY, {"k": [20, 20]}),
        r"axis 'k' repeats the value 20: give each value once",
    ),
    "sweep(workers=0)": (lambda tmp, r: wideDIP.sweep(TINY, {"k": [4]}, workers=0), r"workers must be an integer >= 1"),
    "sweep(workers=1.5)": (lambda tmp, r: wideDIP.sweep(TINY, {"k": [4]}, workers=1.5), r"workers must be an integer"),
    "sweep(dict as base)": (lambda tmp, r: wideDIP.sweep({"k": 4}, {"k": [4]}), r"sweep expects a wideDIP.Config"),
    "sweep(path is a file)": (
        lambda tmp, r: (tmp / "f").write_text("x") and wideDIP.sweep(TINY, {"k": [4]}, tmp / "f"),
        r"cannot create the sweep directory .*f'",
    ),
    "compare(step_sizes=1.0)": (
        lambda tmp, r: wideDIP.compare(TINY, step_sizes=1.0),
        r"step_sizes takes a list of values",
    ),
    "compare(step_sizes=['a'])": (
        lambda tmp, r: wideDIP.compare(TINY, step_sizes=["a"]),
        r"step_sizes must be positive finite numbers",
    ),
    "compare(step_sizes=[0.1, -1])": (
        lambda tmp, r: wideDIP.compare(TINY, step_sizes=[0.1, -1]),
        r"step_sizes must be positive finite numbers",
    ),
    "compare(step_sizes=(1, 1))": (
        lambda tmp, r: wideDIP.compare(TINY, step_sizes=(1, 1)),
        r"compare: step_sizes repeats the value 1.0",
    ),
    "compare(dict)": (lambda tmp, r: wideDIP.compare({"k": 4}), r"compare expects a wideDIP.Config"),
    "simulate(dict)": (lambda tmp, r: wideDIP.simulate({"k": 4}), r"simulate expects a wideDIP.Config"),
    "load('fig.png')": (lambda tmp, r: _not_a_result(tmp), r"'.*fig.png' is not a result saved by wideDIP"),
    "load(foreign .npz)": (lambda tmp, r: _foreign_npz(tmp), r"'.*other.npz' is not a result saved by wideDIP"),
    "load(missing)": (lambda tmp, r: wideDIP.load(tmp / "missing.npz"), r"load: no file or directory '.*missing.npz'"),
    "load_sweep(not a sweep)": (lambda tmp, r: wideDIP.load_sweep(tmp), r"is not a sweep directory"),
    "result.save('res.json')": (lambda tmp, r: r.save(tmp / "res.json"), r"ending in .npz .*res.json"),
    "checkpoint_steps(0)": (lambda tmp, r: wideDIP.checkpoint_steps(0), r"steps must be an integer >= 1"),
    "lemma2_probability(n=0)": (
        lambda tmp, r: wideDIP.lemma2_probability(0, 10, "sigmoid", 1.0),
        r"n must be an integer >= 1",
    ),
    "lemma2_probability(max_entry=0)": (
        lambda tmp, r: wideDIP.lemma2_probability(10, 10, "sigmoid", 0.0),
        r"max_entry .* must be a number > 0",
    ),
    "seed_keys(dict)": (lambda tmp, r: wideDIP.seed_keys({"seed": 0}), r"seed_keys expects a wideDIP.Config"),
    "draw_problem(dict)": (
        lambda tmp, r: wideDIP.draw_problem({"m": 2}, jax.random.PRNGKey(0)),
        r"draw_problem expects a wideDIP.Config",
    ),
    "activation('swish')": (lambda tmp, r: wideDIP.activation("swish"), r"activation must be one of \('sigmoid'"),
    "ntk(space='x')": (lambda tmp, r: wideDIP.ntk(None, None, "sigmoid", space="x"), r"space must be one of"),
    "jacobian(mode='x')": (lambda tmp, r: wideDIP.jacobian(lambda p: p, np.zeros(2), mode="x"), r"mode must be one of"),
    "enable_compilation_cache(a file)": (
        lambda tmp, r: _cache_on_a_file(tmp),
        r"cannot use '.*file' as the cache folder",
    ),
    "SweepResult.counts('x')": (
        lambda tmp, r: wideDIP.sweep(TINY, {"k": [4]}, progress=False).counts("x"),
        r"outcome must be one of \('converged'",
    ),
}


@pytest.mark.parametrize("row", list(API_ROWS))
def test_api_rows_raise_value_error_naming_the_argument(row, tmp_path, tiny_result):
    call, pattern = API_ROWS[row]
    with pytest.raises(ValueError, match=pattern):
        call(tmp_path, tiny_result)


@pytest.fixture
def no_computation(monkeypatch):
    """Any simulation, comparison or sweep cell started fails the test: the CLI must refuse first."""

    def refuse(*args, **kwargs):
        raise AssertionError("a computation started before the input was checked")

    monkeypatch.setattr("wideDIP._experiments.simulate.simulate", refuse)
    monkeypatch.setattr("wideDIP._experiments.sweep.simulate_batch", refuse)
    monkeypatch.setattr("wideDIP._experiments.compare.compare", refuse)


CLI_ROWS = {
    "sweep --workers 0": (["sweep", "fig1-quick", "--workers", "0"], r"--workers: must be an integer >= 1, got '0'"),
    "sweep --workers -1": (["sweep", "fig1-quick", "--workers", "-1"], r"--workers: must be an integer >= 1, got '-1'"),
    "sweep unknown preset": (["sweep", "fig3"], r"invalid choice: 'fig3'"),
    "sweep --out /proc/x": (["sweep", "fig1-quick", "--out", "/proc/wideDIP-x"], r"cannot create the sweep directory"),
    "sweep --n 0": (["sweep", "fig1-quick", "--n", "0", "5"], r"--n must be an integer >= 1, got 0"),
    "simulate --out nodir/x.npz": (
        ["simulate", "--out", "{tmp}/nodir/x.npz"],
        r"--out: the folder '.*nodir' .* does not exist",
    ),
    "simulate --out res.json": (["simulate", "--out", "{tmp}/res.json"], r"ending in .npz"),
    "simulate --out a folder": (["simulate", "--out", "{tmp}"], r"ending in .npz|is a folder"),
    "simulate --step-size -1": (["simulate", "--step-size", "-1"], r"error: --step-size must be > 0, got -1.0$"),
    "simulate --k 0": (["simulate", "--k", "0"], r"--k must be an integer >= 1, got 0"),
    "simulate --threshold -1": (["simulate", "--threshold", "-1"], r"--threshold must be > 0"),
    "simulate --activation swish": (["simulate", "--activation", "swish"], r"--activation: invalid choice: 'swish'"),
    "simulate --figure s.xyz": (
        ["simulate", "--figure", "{tmp}/s.xyz"],
        r"--figure: .*s.xyz' must end in one of .*\.png",
    ),
    "simulate --figure nodir/s.png": (
        ["simulate", "--figure", "{tmp}/nodir/s.png"],
        r"--figure: the folder .* does not exist",
    ),
    "simulate --t-max 5 (descent)": (
        ["simulate", "--t-max", "5"],
        r"--t-max applies to method='flow' or method='inertial_flow' only",
    ),
    "simulate --method descent --solver kvaerno5 --rtol 5": (
        ["simulate", "--method", "descent", "--solver", "kvaerno5", "--rtol", "5"],
        r"--rtol must be < 1",
    ),
    "simulate --solver kvaerno5 (descent)": (
        ["simulate", "--solver", "kvaerno5"],
        r"--solver applies to method='flow' or method='inertial_flow' only",
    ),
    "simulate --rtol 1e-3 (descent)": (
        ["simulate", "--rtol", "1e-3"],
        r"--rtol applies to method='flow' or method='inertial_flow' only",
    ),
    "simulate --atol 1e-3 (descent)": (
        ["simulate", "--atol", "1e-3"],
        r"--atol applies to method='flow' or method='inertial_flow' only",
    ),
    "simulate --max-solver-steps 9 (descent)": (
        ["simulate", "--max-solver-steps", "9"],
        r"--max-solver-steps applies to method='flow' or method='inertial_flow' only",
    ),
    "simulate --method flow --rtol 5": (["simulate", "--method", "flow", "--rtol", "5"], r"--rtol must be < 1"),
    "simulate --solver euler --atol 1e-3": (
        ["simulate", "--method", "flow", "--solver", "euler", "--atol", "1e-3"],
        r"--atol applies to the adaptive solvers only: solver='euler'",
    ),
    "simulate --network mlp --v-law rademacher": (
        ["simulate", "--network", "mlp", "--v-law", "rademacher"],
        r"--v-law applies to the two-layer networks' layer V only",
    ),
    "simulate --ntk-checkpoints 5": (
        ["simulate", "--ntk-checkpoints", "5"],
        r"--ntk-checkpoints applies only when --track-ntk is set",
    ),
    "sweep --solver kvaerno5 (descent)": (
        ["sweep", "fig1-quick", "--solver", "kvaerno5"],
        r"--solver applies to method='flow' or method='inertial_flow' only",
    ),
    "compare --rtol 5": (["compare", "--rtol", "5"], r"--rtol must be < 1"),
    "simulate --out x.txt": (["simulate", "--out", "{tmp}/x.txt"], r"--out: a result is saved as one \.npz file"),
    "compare --step-size (not an abbreviation of --step-sizes)": (
        ["compare", "--step-size", "0.3"],
        r"unrecognized arguments: --step-size 0.3",
    ),
    "sweep --ntk-implementation without kernels": (
        ["sweep", "fig1-quick", "--ntk-implementation", "jacobian"],
        r"--ntk-implementation applies only where kernels are computed",
    ),
    "compare --figure nodir/c.png": (
        ["compare", "--figure", "{tmp}/nodir/c.png"],
        r"--figure: the folder .* does not exist",
    ),
    "compare --figure c.xyz": (
        ["compare", "--figure", "{tmp}/c.xyz"],
        r"--figure: .*c.xyz' must end in one of .*\.png",
    ),
    "compare --step-sizes -1": (
        ["compare", "--step-sizes", "-1", "--figure", "{tmp}/c.png"],
        r"--step-sizes must be positive finite numbers",
    ),
    "compare --step-sizes 1 1": (["compare", "--step-sizes", "1", "1"], r"--step-sizes repeats the value 1.0"),
    "sweep --k 20 20": (["sweep", "fig1-quick", "--k", "20", "20"], r"axis 'k' repeats the value 20"),
    "ntk --out nodir/x.npz": (["ntk", "--out", "{tmp}/nodir/x.npz", "--figure", "{tmp}/n.png"], r"--out: the folder"),
    "ntk --figure nodir/n.png": (["ntk", "--figure", "{tmp}/nodir/n.png"], r"--figure: the folder"),
    "plot missing": (["plot", "{tmp}/missing"], r"no file or directory '.*missing'; wideDIP saves a sweep directory"),
    "plot --figure p.xyz": (
        ["plot", "{tmp}/missing", "--figure", "{tmp}/p.xyz"],
        r"--figure: .*p.xyz' must end in one of",
    ),
    "sweep --workers two": (
        ["sweep", "fig1-quick", "--workers", "two"],
        r"--workers: must be an integer >= 1, got 'two'",
    ),
    "simulate --m 5 10": (["simulate", "--m", "5", "10"], r"unrecognized arguments: 10"),
    "sweep --bogus": (["sweep", "fig1-quick", "--bogus", "3"], r"unrecognized arguments: --bogus 3"),
}


@pytest.mark.parametrize("row", list(CLI_ROWS))
def test_cli_rows_exit_2_with_one_line_and_compute_nothing(row, tmp_path, capsys, no_computation, monkeypatch):
    monkeypatch.chdir(tmp_path)  # default output folders (runs/PRESET) land here, whatever the checkout holds
    argv, pattern = CLI_ROWS[row]
    with pytest.raises(SystemExit) as exit_info:
        main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    error_lines = [line for line in err.splitlines() if ": error: " in line]
    assert len(error_lines) == 1 and error_lines[0].startswith("widedip ")
    assert re.search(pattern, error_lines[0]), error_lines[0]
    assert err.startswith("usage: widedip " + argv[0])  # the subcommand's own usage
    assert len(err.splitlines()) == 2  # one line of usage, one of error


def test_sweep_help_shows_the_presets_own_defaults(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "fig1-quick", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    base, axes = wideDIP.preset("fig1-quick")
    assert f"--seeds SEEDS default: {base.seeds}" in text and f"--steps STEPS default: {base.steps}" in text
    assert "default: " + " ".join(map(str, axes["k"])) in text
    assert (base.seeds, base.steps) != (Config().seeds, Config().steps)  # the check could fail


def test_compare_takes_t_max_without_method(tmp_path, capsys):
    """compare runs the flow and descent whatever `method` says: --t-max sets the horizon alone."""
    figure = tmp_path / "c.png"
    assert (
        main(
            [
                "compare",
                "--m",
                "2",
                "--n",
                "3",
                "--d",
                "2",
                "--k",
                "4",
                "--seeds",
                "1",
                "--t-max",
                "2",
                "--step-sizes",
                "1",
                "--figure",
                str(figure),
                "--quiet",
            ]
        )
        == 0
    )
    assert "horizon t=2 " in capsys.readouterr().out and figure.exists()


def test_version_lists_the_libraries(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    lines = dict(line.split(" ", 1) for line in capsys.readouterr().out.strip().splitlines())
    assert lines["widedip"] == wideDIP.__version__ and lines["jax"] == jax.__version__
    assert {"jaxlib", "optax", "diffrax", "equinox", "numpy", "pytest"} <= lines.keys()


def test_save_honours_the_npz_suffix(tiny_result, tmp_path):
    assert tiny_result.save(tmp_path / "a.npz").name == "a.npz"
    assert tiny_result.save(tmp_path / "b").name == "b.npz"
    assert json.dumps(wideDIP.load(tmp_path / "b.npz").to_json()["status"]) == json.dumps(tiny_result.status.tolist())


def test_a_bad_value_is_named_even_where_a_sweep_already_exists(tmp_path, capsys, no_computation, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "fig1-quick").mkdir(parents=True)
    (tmp_path / "runs" / "fig1-quick" / "sweep.json").write_text("{}")
    with pytest.raises(SystemExit):
        main(["sweep", "fig1-quick", "--n", "0"])
    assert "--n must be an integer >= 1" in capsys.readouterr().err


def test_save_into_a_missing_folder_is_a_value_error(tiny_result, tmp_path):
    with pytest.raises(ValueError, match="SimulationResult.save: the folder '.*nodir' .* does not exist"):
        tiny_result.save(tmp_path / "nodir" / "x.npz")


def test_kernel_settings_that_apply_to_nothing_are_refused_and_a_sweep_is_judged_as_a_whole():
    """`ntk_implementation` without kernels (no tracking, no noise) and `ntk_checkpoints` where the
    paper's closed form evaluates every checkpoint change nothing: refused before any computation;
    in a sweep the setting stands if any cell uses it (noise-quick's σ = 0 column shares it)."""
    from wideDIP._experiments.simulate import refuse_unused_kernel_settings
    from wideDIP._resolve import builtin_network

    small = Config(m=2, n=3, d=2, k=4, seeds=1, steps=2)
    with pytest.raises(ValueError, match=r"simulate: Config\.ntk_implementation applies only where kernels"):
        wideDIP.simulate(small.replace(ntk_implementation="jacobian"))
    with pytest.raises(ValueError, match=r"compare: Config\.ntk_checkpoints applies to the kernels that need"):
        wideDIP.compare(small.replace(track_ntk=True, ntk_checkpoints=5))
    cells = [small.replace(ntk_implementation="jacobian", noise=noise) for noise in (0.0, 0.1)]
    refuse_unused_kernel_settings([(cell, builtin_network(cell)) for cell in cells], "sweep")  # the noisy cell uses it
    with pytest.raises(ValueError, match="ntk_implementation"):
        refuse_unused_kernel_settings([(cells[0], builtin_network(cells[0]))], "sweep")
    both = small.replace(network="two_layer_both", track_ntk=True, ntk_checkpoints=5)
    refuse_unused_kernel_settings([(both, builtin_network(both))], "simulate")  # its closed form needs (z, V)
