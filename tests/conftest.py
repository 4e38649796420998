import os

import pytest

# The tests measure behaviour, not the user's compilation cache: keep ~/.cache untouched.
os.environ.setdefault("WIDEDIP_CACHE_DIR", "off")
# One JAX device per test process (two test processes share the 2 cores); the tests of several
# devices and processes start their own.
os.environ.setdefault("WIDEDIP_CPU_DEVICES", "1")


@pytest.fixture
def setup_traces(monkeypatch):
    """A list that grows by one each time the compiled setup is traced (a compilation of it)."""
    from wideDIP import _simulate

    traces = []
    original = _simulate.draw_problem_with
    monkeypatch.setattr(_simulate, "draw_problem_with", lambda *args: traces.append(1) or original(*args))
    return traces
