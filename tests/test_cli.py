"""The `widedip` command line."""

import json
import subprocess
import sys

import pytest

import wideDIP
from wideDIP._cli import main

ARGS = ["simulate", "--m", "4", "--n", "12", "--d", "6", "--k", "40", "--seeds", "3", "--steps", "300",
        "--operator-scale", "sqrt_n", "--step-size", "2", "--threshold", "1e-5", "--quiet"]


def test_json_output_and_save(tmp_path, capsys):
    assert main(ARGS + ["--json", "--out", str(tmp_path / "r.npz")]) == 0
    payload = json.loads(capsys.readouterr().out)
    config = wideDIP.Config(m=4, n=12, d=6, k=40, seeds=3, steps=300, operator_scale="sqrt_n", step_size=2.0,
                            threshold=1e-5)
    assert payload["config"] == config.to_dict()
    assert wideDIP.load(tmp_path / "r.npz").status.tolist() == payload["status"]
    direct = wideDIP.simulate(config, progress=False)
    assert payload["status"] == direct.status.tolist()


def test_summary_output(capsys):
    assert main(ARGS) == 0
    assert "converged" in capsys.readouterr().out


@pytest.mark.parametrize("option, value, message", [("--k", "0", "Config.k must be an integer >= 1"),
                                                    ("--threshold", "-1", "Config.threshold must be > 0"),
                                                    ("--activation", "swish", "invalid choice")])
def test_bad_input_is_a_clear_error(option, value, message):
    process = subprocess.run([sys.executable, "-m", "wideDIP._cli", "simulate", option, value],
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == 2
    assert message in process.stderr and "Traceback" not in process.stderr
