"""Two processes joined through jax.distributed (gloo, localhost) give the bits of one process, every
process holds the whole results, and only process 0 writes files; bad settings are ValueErrors
naming the variable."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wideDIP import Config, load, simulate, sweep
from wideDIP._runtime import parallel as _parallel

# the shape of test_result.py and test_parallel.py: the one-process descent compiles nothing of its own
BASE = Config(m=4, n=12, d=6, k=40, seeds=6, steps=300, operator_scale="sqrt_n", step_size=2.0, threshold=1e-6)
CONFIGS = {"descent": BASE, "flow": BASE.replace(method="flow", max_solver_steps=500)}
FIELDS = ("loss", "final_loss", "stop_step", "solver_steps", "signal_error", "stability")
AXES = {"step_size": [1.0, 2.0]}  # the shape of the descent above: nothing more to compile
COMMAND = "simulate --m 4 --n 12 --d 6 --k 40 --seeds 6 --steps 300 --operator-scale sqrt_n --step-size 2 --threshold 1e-6 --quiet --json".split()
ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, os, sys, numpy as np, jax, wideDIP
from wideDIP._cli import main
from tests.test_distributed import AXES, BASE, COMMAND, CONFIGS, FIELDS
assert jax.process_count() == 2 and jax.device_count() == 2
out, me = sys.argv[1], jax.process_index()
mine = os.path.join(out, f"process{me}")  # each process is given its own paths: only process 0 may use them
arrays = {}
for name, config in CONFIGS.items():
    result = wideDIP.simulate(config, progress=False)
    arrays.update({f"{name}_{field}": getattr(result, field) for field in FIELDS})
first = wideDIP.sweep(BASE, AXES, os.path.join(mine, "sweep"), progress=False).cells
if me == 0:  # the resumed sweep computes this cell again, on both processes
    os.remove(os.path.join(mine, "sweep", "cells", "cell-1.json"))
again = wideDIP.sweep(BASE, AXES, os.path.join(mine, "sweep"), progress=False).cells
assert main(COMMAND + ["--out", os.path.join(mine, "run.npz")]) == 0
cells = [json.dumps(cell) for cell in list(first) + list(again)]
np.savez(os.path.join(out, f"results{me}.npz"), sweep=np.array(cells), **arrays)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_processes_give_the_bits_of_one_and_only_process_0_writes(tmp_path):
    environment = {name: value for name, value in os.environ.items() if name != "XLA_FLAGS"}
    environment.update(
        JAX_PLATFORMS="cpu",
        WIDEDIP_CPU_DEVICES="1",
        WIDEDIP_PROCESS_COUNT="2",
        WIDEDIP_COORDINATOR=f"127.0.0.1:{_free_port()}",
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(tmp_path)],
            cwd=ROOT,
            text=True,
            env={**environment, "WIDEDIP_PROCESS_ID": str(index)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for index in range(2)
    ]
    try:  # the one-process references while the two processes run
        references = {name: simulate(config, progress=False) for name, config in CONFIGS.items()}
        cells = [json.dumps(cell) for cell in sweep(BASE, AXES, progress=False).cells]
        outputs = [process.communicate(timeout=300) for process in processes]
    finally:
        for process in processes:
            process.kill()
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
    printed = [[line for line in stdout.splitlines() if line.startswith("{")] for stdout, _ in outputs]
    assert len(printed[0]) == 1 and printed[1] == []  # the CLI's JSON: process 0 alone

    for index in range(2):
        got = np.load(tmp_path / f"results{index}.npz")
        for name, reference in references.items():
            for field in FIELDS:
                np.testing.assert_array_equal(
                    got[f"{name}_{field}"], getattr(reference, field), err_msg=f"process {index} {name} {field}"
                )
        assert list(got["sweep"]) == cells + cells
    assert json.loads(printed[0][0])["final_loss"] == references["descent"].final_loss.tolist()

    assert not (tmp_path / "process1").exists()
    written = tmp_path / "process0"
    assert sorted(p.name for p in (written / "sweep" / "cells").iterdir()) == ["cell-0.json", "cell-1.json"]
    assert (written / "sweep" / "sweep.json").is_file()
    np.testing.assert_array_equal(load(written / "run.npz").final_loss, references["descent"].final_loss)
    assert references["descent"].counts()["converged"] > 0 and references["flow"].counts()["converged"] > 0


@pytest.mark.parametrize(
    "settings, named",
    [
        ({"WIDEDIP_COORDINATOR": "localhost"}, "WIDEDIP_COORDINATOR"),
        (
            {"WIDEDIP_COORDINATOR": "localhost:1234", "WIDEDIP_PROCESS_COUNT": "0", "WIDEDIP_PROCESS_ID": "0"},
            "WIDEDIP_PROCESS_COUNT",
        ),
        (
            {"WIDEDIP_COORDINATOR": "localhost:1234", "WIDEDIP_PROCESS_COUNT": "2", "WIDEDIP_PROCESS_ID": "2"},
            "WIDEDIP_PROCESS_ID",
        ),
        ({"WIDEDIP_COORDINATOR": "localhost:1234", "WIDEDIP_PROCESS_COUNT": "2"}, "WIDEDIP_PROCESS_ID"),
        ({"WIDEDIP_PROCESS_ID": "1"}, "WIDEDIP_PROCESS_ID is set but WIDEDIP_COORDINATOR is not"),
    ],
)
def test_bad_process_settings_are_value_errors_naming_the_variable(monkeypatch, settings, named):
    for name in ("WIDEDIP_COORDINATOR", "WIDEDIP_PROCESS_ID", "WIDEDIP_PROCESS_COUNT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=named):
        _parallel.join_processes()
