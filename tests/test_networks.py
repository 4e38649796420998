"""Networks beyond the paper's (docs/theory.md §9): built-ins, a user's own, one engine for all,
and the NTK tracked through the Jacobian."""

import numpy as np
import pytest

from wideDIP import Config, simulate

# The paper's setting (sigmoid, A and V ~ N(0,1), η = 1, float32) at a small shape. These bits
# were recorded with the code as it was before any network but the paper's existed.
PINNED_BASE = Config(m=10, n=20, d=50, k=100, seeds=4, steps=300)
PINNED = {
    "descent": (PINNED_BASE, [235, 170, 300, 110],
                ["0x1.98ab9cp-24", "0x1.a2846ep-24", "0x1.3ebcacp-8", "0x1.8fb0e0p-24"],
                ["0x1.888f2cp-1", "0x1.99cefep-1", "0x1.7008e4p-1", "0x1.dfb516p-1"]),
    "full": (PINNED_BASE.replace(parametrization="full", steps=60), [60, 60, 60, 60],
             ["0x1.42e798p-7", "0x1.7cd528p-9", "0x1.578996p-3", "0x1.eec76ap-15"],
             ["0x1.8874b0p-1", "0x1.9996fap-1", "0x1.6d240ap-1", "0x1.dfb692p-1"]),
    "flow": (PINNED_BASE.replace(method="flow", t_max=20.0), [45, 39, 35, 39],
             ["0x1.e2801ep-3", "0x1.b7a85ep-3", "0x1.132a8cp+0", "0x1.260270p-7"],
             ["0x1.909acap-1", "0x1.96a604p-1", "0x1.76dda8p-1", "0x1.d1c04ep-1"]),
}
PINNED_STABILITY = ["0x1.1e0e24p+1", "0x1.38fedap+1", "0x1.11e488p+1", "0x1.5f25e0p+1"]


def _floats(hexes):
    return np.array([float.fromhex(h) for h in hexes], np.float32)


@pytest.mark.parametrize("name", list(PINNED))
def test_the_papers_setting_keeps_its_bits(name):
    config, stop_step, final_loss, signal_error = PINNED[name]
    result = simulate(config, progress=False)
    assert result.stop_step.tolist() == stop_step
    np.testing.assert_array_equal(result.final_loss, _floats(final_loss))
    np.testing.assert_array_equal(result.signal_error, _floats(signal_error))
    np.testing.assert_array_equal(result.stability, _floats(PINNED_STABILITY))
