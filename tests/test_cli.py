"""The `widedip` command line."""

import json
import subprocess
import sys

import pytest

import wideDIP
from wideDIP._cli import main

ARGS = "simulate --m 4 --n 12 --d 6 --k 40 --seeds 3 --steps 300 --operator-scale sqrt_n --step-size 2 --threshold 1e-5 --quiet".split()


def test_json_output_and_save(tmp_path, capsys):
    assert main(ARGS + ["--json", "--out", str(tmp_path / "r.npz")]) == 0
    payload = json.loads(capsys.readouterr().out)
    config = wideDIP.Config(
        m=4, n=12, d=6, k=40, seeds=3, steps=300, operator_scale="sqrt_n", step_size=2.0, threshold=1e-5
    )
    assert payload["config"] == config.to_dict()
    assert wideDIP.load(tmp_path / "r.npz").status.tolist() == payload["status"]
    direct = wideDIP.simulate(config, progress=False)
    assert payload["status"] == direct.status.tolist()


def test_summary_output(capsys):
    assert main(ARGS) == 0
    assert "converged" in capsys.readouterr().out


def test_bad_input_is_a_clear_error():
    """`python -m wideDIP` with a bad value: exit code 2, the message, no traceback (each option's
    message, in process: tests/test_invalid_input.py's CLI rows)."""
    process = subprocess.run(
        [sys.executable, "-m", "wideDIP", "simulate", "--k", "0"], capture_output=True, text=True, timeout=120
    )
    assert process.returncode == 2
    assert "--k must be an integer >= 1" in process.stderr and "Traceback" not in process.stderr


def test_ntk_command_writes_the_figure_and_reports_the_theorem(tmp_path, capsys):
    """The run of tests/test_plots.py's `certified` (its compiled setup is in the session's cache)."""
    figure = tmp_path / "ntk.png"
    assert (
        main(
            [
                "ntk",
                "--m",
                "1",
                "--n",
                "2",
                "--d",
                "3",
                "--k",
                "2000",
                "--activation",
                "tanh",
                "--v-law",
                "rademacher",
                "--method",
                "flow",
                "--seeds",
                "4",
                "--t-max",
                "100",
                "--dtype",
                "float64",
                "--figure",
                str(figure),
                "--quiet",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert figure.exists() and figure.stat().st_size > 10_000
    assert "certified by (5)" in out and "lambda_min(H)" in out


@pytest.mark.parametrize("as_json", [False, True])
def test_simulate_figure_option_draws_the_run(tmp_path, capsys, as_json):
    """`--figure` writes `result.plot`; with `--json` its line goes to stderr, stdout stays JSON."""
    figure = tmp_path / "run.png"
    assert main(ARGS + ["--figure", str(figure)] + (["--json"] if as_json else [])) == 0
    captured = capsys.readouterr()
    assert figure.exists() and figure.stat().st_size > 10_000
    if as_json:
        assert json.loads(captured.out)["config"]["k"] == 40 and f"figure: {figure}" in captured.err
    else:
        assert "converged" in captured.out and captured.out.strip().endswith(f"figure: {figure}")


@pytest.mark.parametrize("delay", [0.5, 1.5])
def test_ctrl_c_at_any_moment_is_one_line_and_exit_130(delay):
    """While wideDIP loads JAX (0.5 s) or runs (1.5 s): one line, exit code 130, no traceback."""
    import signal
    import time

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wideDIP",
            "simulate",
            "--k",
            "1000",
            "--threshold",
            "1e-30",
            "--steps",
            "2000000",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("widedip")
    assert "interrupted" in err and "nothing was" in err


def test_plot_draws_a_saved_simulation(tmp_path, capsys):
    """`widedip plot RUN.npz` draws `SimulationResult.plot` to RUN.png and RUN.pdf; `--figure` picks one file."""
    saved = tmp_path / "run.npz"
    assert main(ARGS + ["--out", str(saved)]) == 0
    assert main(["plot", str(saved)]) == 0
    assert capsys.readouterr().out.strip().endswith(f"figure: {tmp_path / 'run.png'} and {tmp_path / 'run.pdf'}")
    assert (tmp_path / "run.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "run.pdf").exists()
    assert main(["plot", str(saved), "--figure", str(tmp_path / "again.png")]) == 0
    assert (tmp_path / "again.png").stat().st_size > 10_000 and not (tmp_path / "again.pdf").exists()
    with pytest.raises(SystemExit) as exit_info:
        main(["plot", str(saved), "--statistic", "median_final_loss"])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--statistic applies to a sweep directory" in error and str(saved) in error


@pytest.mark.parametrize("what", ["text file", "foreign npz", "plain folder"])
def test_plot_names_the_kinds_it_draws_when_the_path_is_none(what, tmp_path, capsys):
    import numpy as np

    path = {"text file": tmp_path / "fig.png", "foreign npz": tmp_path / "other.npz", "plain folder": tmp_path}[what]
    if what == "text file":
        path.write_text("not a figure")
    elif what == "foreign npz":
        np.savez(path, x=np.zeros(3))
    with pytest.raises(SystemExit) as exit_info:
        main(["plot", str(path)])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and f"'{path}'" in error and "Traceback" not in error
    assert "sweep directory" in error and "a simulation or a comparison" in error


@pytest.mark.parametrize("buffered", [True, False])
def test_a_reader_that_stops_reading_ends_the_command_quietly(buffered):
    """`widedip simulate ... | head -1`: the reader closes the pipe (here before the summary is
    written, so that the write certainly finds it closed); exit status 0, nothing on stderr, with
    stdout buffered (the error comes at the flush) or not (at the print). (test_invalid_input.py's
    shape: its compiled programs are in the session's cache.)"""
    import os

    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wideDIP",
            "simulate",
            "--m",
            "2",
            "--n",
            "3",
            "--d",
            "2",
            "--k",
            "4",
            "--seeds",
            "2",
            "--steps",
            "3",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=120) == 0 and err == ""


def test_an_internal_failure_is_not_presented_as_a_usage_error(monkeypatch):
    """A `ValueError` raised inside a library (here NumPy's, from within the run) is wideDIP's failure:
    it propagates with its traceback instead of becoming `usage: ... error:` with exit code 2."""
    import numpy as np

    monkeypatch.setattr("wideDIP._experiments.simulate.simulate", lambda *args, **kwargs: np.nanargmin([np.nan]))
    with pytest.raises(ValueError, match="All-NaN slice encountered"):
        main(ARGS)


def test_simulate_saves_and_prints_the_large_fields_when_asked(tmp_path, capsys):
    """`--reconstructions`, `--operator-matrix`: `x(t)` and `A` in the file of `--out` and in the JSON
    of `--json`, each only when asked for (left out, they load as None)."""
    import numpy as np

    saved = tmp_path / "r.npz"
    assert main(ARGS + ["--reconstructions", "--json", "--out", str(saved)]) == 0
    payload = json.loads(capsys.readouterr().out)
    loaded = wideDIP.load(saved)
    assert loaded.reconstructions is not None and loaded.reconstructions.shape[::2] == (3, 12)
    np.testing.assert_array_equal(np.array(payload["reconstructions"], float), loaded.reconstructions)
    assert loaded.operator_matrix is None and "operator_matrix" not in payload


@pytest.mark.parametrize("option", ["--reconstructions", "--operator-matrix"])
def test_a_large_field_without_out_or_json_is_refused(option, capsys):
    """Without `--out` or `--json` the option would do nothing: exit code 2, naming it, before any run."""
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", option, "--quiet"])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and option in error and "--out" in error and "Traceback" not in error
