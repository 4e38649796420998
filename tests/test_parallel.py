"""Seeds sharded over several devices (shard_map) give the same bits as one device. The
several devices are 4 CPU "devices" (XLA_FLAGS, set before JAX starts, so in a subprocess); by
default a process has one CPU device per core."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from wideDIP import Config, simulate, sweep
from wideDIP._runtime.parallel import cpu_device_count

BASE = Config(m=4, n=12, d=6, k=40, seeds=6, steps=800, operator_scale="sqrt_n", step_size=2.0, threshold=1e-6)
# the flow stopping at the threshold over devices: tests/test_distributed.py; the kernels are computed
# after the run, seed by seed, on one device (not split over devices)
CONFIGS = {
    "descent": BASE,
    "noisy_flow_to_the_end": BASE.replace(method="flow", noise=0.1, stop_at_threshold=False, steps=100),
    "implicit_flow": BASE.replace(method="flow", solver="kvaerno5", dtype="float64", steps=20),
}
ONE_DEVICE = ("implicit_flow",)
"""Split over the devices with its Newton steps by Woodbury (docs/theory.md §10), each device's batch
of another size than one device's: the batch's size changes the last bits of its products, so
these agree to rounding, not bit for bit."""
FIELDS = ("loss", "final_loss", "stop_step", "weight_distance", "signal_error", "stability")
AXES = {"n": [6, 12], "step_size": [1.0, 2.0]}  # one padded batch at the shape of BASE: one more compilation

SCRIPT = """
import json, sys, numpy as np, jax, wideDIP
from wideDIP._runtime.parallel import over_seeds
from wideDIP._integrate.discrete import advance
from tests.test_parallel import AXES, BASE, CONFIGS, FIELDS
assert jax.device_count() == 4 and over_seeds(advance, (True,) * 3 + (False,) * 3) is not advance
out = {}
for name, config in CONFIGS.items():
    result = wideDIP.simulate(config, progress=False)
    out.update({f"{name}_{field}": getattr(result, field) for field in FIELDS})
cells = wideDIP.sweep(BASE, AXES, progress=False, workers=1).cells  # one cell at a time: seeds over the 4 devices
np.savez(sys.argv[1], sweep=np.array([json.dumps(cell) for cell in cells.ravel()]), **out)
"""


def test_four_devices_give_the_bits_of_one(tmp_path):
    environment = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    environment.pop("WIDEDIP_CPU_DEVICES", None)  # the test processes' one device (conftest) would override XLA_FLAGS
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    four_devices = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "four.npz")],
        env=environment,
        cwd=root,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:  # the one-device references while the child runs
        references = {name: simulate(config, progress=False) for name, config in CONFIGS.items()}
        cells = sweep(BASE, AXES, progress=False).cells
        _, stderr = four_devices.communicate(timeout=600)
    finally:
        four_devices.kill()
    assert four_devices.returncode == 0, stderr[-3000:]
    four = np.load(tmp_path / "four.npz")
    compared = 0
    for name, result in references.items():
        for field in FIELDS:
            if name in ONE_DEVICE:
                np.testing.assert_allclose(getattr(result, field), four[f"{name}_{field}"], rtol=1e-12, atol=1e-15)
            else:
                np.testing.assert_array_equal(getattr(result, field), four[f"{name}_{field}"], err_msg=name + field)
            compared += 1
    assert [json.dumps(cell) for cell in cells.ravel()] == list(four["sweep"])
    assert compared == 18


def test_one_cpu_device_per_core_unless_the_user_chose(monkeypatch):
    """A fresh process gets one CPU device per core it may use (one when pinned to one core), the
    number in WIDEDIP_CPU_DEVICES, or what XLA_FLAGS says."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("WIDEDIP_CPU_DEVICES", "XLA_FLAGS", "JAX_NUM_CPU_DEVICES")
    }
    environment["JAX_PLATFORMS"] = "cpu"
    count = "import jax, wideDIP; wideDIP.Config; print(jax.device_count())"
    pin = "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "  # one core, before JAX starts
    cases = [
        ({}, "", len(os.sched_getaffinity(0))),
        ({}, pin, 1),
        ({"WIDEDIP_CPU_DEVICES": "3"}, "", 3),
        ({"XLA_FLAGS": "--xla_force_host_platform_device_count=5"}, "", 5),
    ]
    for extra, first, expected in cases:
        child = subprocess.run(
            [sys.executable, "-c", first + count],
            env={**environment, **extra},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        assert int(child.stdout) == expected, (extra, first)
    monkeypatch.setenv("WIDEDIP_CPU_DEVICES", "0")
    with pytest.raises(ValueError, match="WIDEDIP_CPU_DEVICES must be an integer >= 1, got '0'"):
        cpu_device_count()
